//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// One valid event line in the §3 shape.
pub fn event(id: &str, time: &str, action: &str, actor: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"events","attributes":{{"time":"{time}","action":"{action}","actor":{{"id":"{actor}","name":"User {actor}","email":"{actor}@example.com"}},"location":{{"ip":"203.0.113.7","geo":"-33.87,151.21","countryName":"Australia"}}}},"message":{{"content":"did {action}","format":"simple"}}}}"#
    )
}

/// Run the vigil binary with a data dir and arguments.
pub fn vigil(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("VIGIL_DATA_DIR")
        .output()
        .expect("run vigil")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last line of stdout.
pub fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_string()
}
