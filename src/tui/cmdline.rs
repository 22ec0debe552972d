//! The `:` command line: parses what the analyst typed after `:` into a [`CmdLine`], without touching state.
//!
//! Pure (no I/O except reading `$HOME` to expand `~`); the app turns a `CmdLine` into state changes and engine
//! commands. Errors are one short line, ready for the footer.

use std::path::PathBuf;

use crate::detect::tuning::Sensitivity;
use crate::engine::respond::Access;
use crate::export::ExportFormat;
use crate::model::AlertStatus;

/// A parsed `:` command.
#[derive(Debug, Clone, PartialEq)]
pub enum CmdLine {
    /// `:status acknowledged` (aliases `:ack`, `:expected`, `:tp`, `:reopen`): set the status of the selection.
    Status(AlertStatus),
    /// `:assign ana` → `Some("ana")`; `:assign me` → `Some("me")` (the app substitutes the login name); `:unassign` → `None`.
    Assign(Option<String>),
    /// `:note text…`: add a note with the rest of the line, verbatim.
    Note(String),
    /// `:export csv ~/q3.csv` — `!` (`:export! …` or a trailing `!`) overwrites an existing file.
    Export {
        /// `csv` or `json`; may be left out when the path's extension names it.
        format: ExportFormat,
        /// Where to write, with a leading `~` already expanded.
        path: PathBuf,
        /// Overwrite an existing file (`!`); without it the app refuses, so a typo cannot clobber a report.
        force: bool,
    },
    /// `:sensitivity page-crawling fewer`.
    Sensitivity {
        /// The detection id as typed; the engine checks it exists.
        detection: String,
        /// The new sensitivity.
        sensitivity: Sensitivity,
    },
    /// `:enable page-crawling`.
    Enable(String),
    /// `:disable page-crawling`.
    Disable(String),
    /// `:filter status:open sev:>=high` (the query text, parsed by [`crate::model::query`]); `:filter` alone clears.
    Filter(String),
    /// `:sort time` / `:sort severity` (validated here, so the app gets a known key).
    Sort(String),
    /// `:suspend [ORG]`, `:restore [ORG]`: the current alert's actor, in the org named when several are
    /// configured (the engine checks the name).
    Access { access: Access, org: Option<String> },
    /// `:q`, `:quit`.
    Quit,
    /// `:help`, `:h`.
    Help,
}

/// Every command name, for the "unknown command" hint.
const COMMANDS: &str = ":status, :assign, :unassign, :note, :export, :sensitivity, :enable, :disable, :filter, :sort, :suspend, :restore, :help, :quit";

/// The sort keys `:sort` accepts.
const SORT_KEYS: [&str; 2] = ["time", "severity"];

/// Parses the text after `:`. Leading/trailing spaces are ignored; the command name is case-insensitive.
pub fn parse(line: &str) -> Result<CmdLine, String> {
    let line = line.trim();
    let (head, rest) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    };
    let (name, bang) = match head.strip_suffix('!') {
        Some(n) => (n, true),
        None => (head, false),
    };
    let name = name.to_ascii_lowercase();
    if bang && name != "export" {
        return Err(format!("':{head}': only :export takes '!'"));
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let status = |s: AlertStatus| -> Result<CmdLine, String> {
        no_args(&name, &words)?;
        Ok(CmdLine::Status(s))
    };
    match name.as_str() {
        "" => Err("empty command; try :help".to_string()),
        "status" | "st" => match words.as_slice() {
            [s] => s
                .parse::<AlertStatus>()
                .map(CmdLine::Status)
                .map_err(|e| e.to_string()),
            _ => Err("usage: :status open|acknowledged|expected|true_positive".to_string()),
        },
        "ack" | "acknowledge" => status(AlertStatus::Acknowledged),
        "expected" | "benign" => status(AlertStatus::Expected),
        "tp" | "true-positive" | "true_positive" => status(AlertStatus::TruePositive),
        "reopen" | "open" => status(AlertStatus::Open),
        "assign" | "a" => match words.as_slice() {
            [who] => Ok(CmdLine::Assign(Some((*who).to_string()))),
            [] => Err("usage: :assign NAME | :assign me | :unassign".to_string()),
            // Full names have spaces: keep the rest of the line as the assignee.
            _ => Ok(CmdLine::Assign(Some(rest.to_string()))),
        },
        "unassign" => {
            no_args(&name, &words)?;
            Ok(CmdLine::Assign(None))
        }
        "note" | "n" => {
            if rest.is_empty() {
                Err("usage: :note TEXT".to_string())
            } else {
                Ok(CmdLine::Note(rest.to_string()))
            }
        }
        "export" | "x" => parse_export(rest, bang),
        "sensitivity" | "sens" => match words.as_slice() {
            [detection, s] => Ok(CmdLine::Sensitivity {
                detection: (*detection).to_string(),
                sensitivity: s.parse::<Sensitivity>()?,
            }),
            _ => Err("usage: :sensitivity DETECTION fewer|default|more".to_string()),
        },
        "enable" => one_detection(&name, &words).map(CmdLine::Enable),
        "disable" => one_detection(&name, &words).map(CmdLine::Disable),
        "filter" | "f" => Ok(CmdLine::Filter(rest.to_string())),
        "sort" => match words.as_slice() {
            [key] => {
                let key = key.to_ascii_lowercase();
                let key = match key.as_str() {
                    "sev" => "severity".to_string(),
                    "created" | "date" | "newest" => "time".to_string(),
                    _ => key,
                };
                if SORT_KEYS.contains(&key.as_str()) {
                    Ok(CmdLine::Sort(key))
                } else {
                    Err(format!(
                        "'{key}' is not a sort key; expected time or severity"
                    ))
                }
            }
            _ => Err("usage: :sort time|severity".to_string()),
        },
        "suspend" | "restore" => {
            let access = if name == "suspend" {
                Access::Suspend
            } else {
                Access::Restore
            };
            match words.as_slice() {
                [] => Ok(CmdLine::Access { access, org: None }),
                [org] => Ok(CmdLine::Access {
                    access,
                    org: Some((*org).to_string()),
                }),
                _ => Err(format!("usage: :{name} [ORG]")),
            }
        }
        "q" | "quit" | "exit" => {
            no_args(&name, &words)?;
            Ok(CmdLine::Quit)
        }
        "h" | "help" => Ok(CmdLine::Help),
        other => Err(format!("unknown command '{other}'; try {COMMANDS}")),
    }
}

fn no_args(name: &str, words: &[&str]) -> Result<(), String> {
    if words.is_empty() {
        Ok(())
    } else {
        Err(format!(
            ":{name} takes no argument, got '{}'",
            words.join(" ")
        ))
    }
}

fn one_detection(name: &str, words: &[&str]) -> Result<String, String> {
    match words {
        [d] => Ok((*d).to_string()),
        _ => Err(format!("usage: :{name} DETECTION")),
    }
}

/// `:export FORMAT PATH [!]`; the format may be left out when the path's extension says it (`~/q3.csv`).
fn parse_export(rest: &str, bang: bool) -> Result<CmdLine, String> {
    const USAGE: &str = "usage: :export csv|json PATH (add ! to overwrite)";
    let (rest, trailing_bang) = match rest.strip_suffix('!') {
        Some(r) if r.is_empty() || r.ends_with(char::is_whitespace) => (r.trim_end(), true),
        _ => (rest, false),
    };
    let force = bang || trailing_bang;
    let (first, after) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let (format, path) = match format_named(first) {
        Some(f) if !after.is_empty() => (f, after),
        Some(_) => return Err(format!("{USAGE}: the path is missing")),
        None if first.is_empty() => return Err(USAGE.to_string()),
        None => {
            // No format word: the whole rest is the path, and its extension picks the format.
            let ext = std::path::Path::new(rest)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("");
            match format_named(ext) {
                Some(f) => (f, rest),
                None => {
                    return Err(format!(
                        "'{first}' is not an export format; expected csv or json"
                    ));
                }
            }
        }
    };
    Ok(CmdLine::Export {
        format,
        path: expand_tilde(path, std::env::var_os("HOME").map(PathBuf::from)),
        force,
    })
}

fn format_named(s: &str) -> Option<ExportFormat> {
    match s.to_ascii_lowercase().as_str() {
        "csv" => Some(ExportFormat::Csv),
        "json" | "jsonl" | "ndjson" => Some(ExportFormat::Json),
        _ => None,
    }
}

/// `~` and `~/…` become `$HOME` and `$HOME/…`; anything else (and `~` without a known home) stays as typed.
fn expand_tilde(path: &str, home: Option<PathBuf>) -> PathBuf {
    match (path, home) {
        ("~", Some(home)) => home,
        (p, Some(home)) if p.starts_with("~/") => home.join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> PathBuf {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
    }

    #[test]
    fn status_and_aliases() {
        assert_eq!(
            parse("status ack"),
            Ok(CmdLine::Status(AlertStatus::Acknowledged))
        );
        assert_eq!(
            parse("  status open "),
            Ok(CmdLine::Status(AlertStatus::Open))
        );
        assert_eq!(parse("tp"), Ok(CmdLine::Status(AlertStatus::TruePositive)));
        assert_eq!(
            parse("expected"),
            Ok(CmdLine::Status(AlertStatus::Expected))
        );
        assert_eq!(parse("reopen"), Ok(CmdLine::Status(AlertStatus::Open)));
        assert!(parse("status frob").unwrap_err().contains("'frob'"));
        assert!(parse("status").unwrap_err().starts_with("usage"));
        assert!(parse("ack now").is_err());
    }

    #[test]
    fn assign() {
        assert_eq!(parse("assign ana"), Ok(CmdLine::Assign(Some("ana".into()))));
        assert_eq!(parse("assign me"), Ok(CmdLine::Assign(Some("me".into()))));
        assert_eq!(
            parse("assign Ana Lima"),
            Ok(CmdLine::Assign(Some("Ana Lima".into())))
        );
        assert_eq!(parse("unassign"), Ok(CmdLine::Assign(None)));
        assert!(parse("assign").is_err());
    }

    #[test]
    fn note_keeps_text_verbatim() {
        assert_eq!(
            parse("note  called  her: fine!"),
            Ok(CmdLine::Note("called  her: fine!".into()))
        );
        assert!(parse("note").is_err());
    }

    #[test]
    fn export_forms() {
        assert_eq!(
            parse("export csv ~/q3.csv"),
            Ok(CmdLine::Export {
                format: ExportFormat::Csv,
                path: home().join("q3.csv"),
                force: false
            })
        );
        assert_eq!(
            parse("export! json /tmp/a.json"),
            Ok(CmdLine::Export {
                format: ExportFormat::Json,
                path: PathBuf::from("/tmp/a.json"),
                force: true
            })
        );
        assert_eq!(
            parse("export csv /tmp/a b.csv !"),
            Ok(CmdLine::Export {
                format: ExportFormat::Csv,
                path: PathBuf::from("/tmp/a b.csv"),
                force: true
            })
        );
        assert_eq!(
            parse("export /tmp/out.json"),
            Ok(CmdLine::Export {
                format: ExportFormat::Json,
                path: PathBuf::from("/tmp/out.json"),
                force: false
            })
        );
        assert!(parse("export xml /tmp/a").unwrap_err().contains("'xml'"));
        assert!(parse("export csv").unwrap_err().contains("path"));
        assert!(parse("export").is_err());
        assert!(parse("note! x").is_err());
    }

    #[test]
    fn tilde_expansion() {
        let h = Some(PathBuf::from("/home/ana"));
        assert_eq!(expand_tilde("~", h.clone()), PathBuf::from("/home/ana"));
        assert_eq!(
            expand_tilde("~/x.csv", h.clone()),
            PathBuf::from("/home/ana/x.csv")
        );
        assert_eq!(
            expand_tilde("~bob/x.csv", h.clone()),
            PathBuf::from("~bob/x.csv")
        );
        assert_eq!(expand_tilde("~/x.csv", None), PathBuf::from("~/x.csv"));
    }

    #[test]
    fn detections() {
        assert_eq!(
            parse("sensitivity page-crawling fewer"),
            Ok(CmdLine::Sensitivity {
                detection: "page-crawling".into(),
                sensitivity: Sensitivity::Fewer
            })
        );
        assert!(
            parse("sensitivity page-crawling lots")
                .unwrap_err()
                .contains("'lots'")
        );
        assert_eq!(
            parse("enable bulk-export"),
            Ok(CmdLine::Enable("bulk-export".into()))
        );
        assert_eq!(
            parse("disable bulk-export"),
            Ok(CmdLine::Disable("bulk-export".into()))
        );
        assert!(parse("enable").is_err());
    }

    #[test]
    fn filter_sort_quit_help() {
        assert_eq!(
            parse("filter status:open sev:>=high"),
            Ok(CmdLine::Filter("status:open sev:>=high".into()))
        );
        assert_eq!(parse("filter"), Ok(CmdLine::Filter(String::new())));
        assert_eq!(parse("sort sev"), Ok(CmdLine::Sort("severity".into())));
        assert_eq!(parse("sort time"), Ok(CmdLine::Sort("time".into())));
        assert!(parse("sort colour").is_err());
        assert_eq!(parse("q"), Ok(CmdLine::Quit));
        assert_eq!(parse("QUIT"), Ok(CmdLine::Quit));
        assert_eq!(parse("help"), Ok(CmdLine::Help));
    }

    #[test]
    fn suspend_and_restore_take_an_optional_org() {
        use crate::engine::respond::Access;
        assert_eq!(
            parse("suspend"),
            Ok(CmdLine::Access {
                access: Access::Suspend,
                org: None
            })
        );
        assert_eq!(
            parse("RESTORE acme"),
            Ok(CmdLine::Access {
                access: Access::Restore,
                org: Some("acme".into())
            })
        );
        assert_eq!(
            parse("suspend a b"),
            Err("usage: :suspend [ORG]".to_string())
        );
    }

    #[test]
    fn unknown_and_empty() {
        let e = parse("frob x").unwrap_err();
        assert!(e.starts_with("unknown command 'frob'; try :status"), "{e}");
        assert!(parse("").is_err());
        assert!(parse("   ").is_err());
        assert!(parse("!").is_err());
    }
}
