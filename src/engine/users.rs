//! Who is at the keyboard, and who is on the other end of the control socket: the name "assign to me"
//! (`m`, `:assign me`) writes and every change's history records as its "who", and the role `[roles]` gives
//! the uid of a socket's peer.
//!
//! The account's passwd entry (of the real uid) is the answer: it is who actually runs the process, it is
//! there when `$USER` is not (a cron job, `env -i`, some containers), and nobody can set it to a string that
//! spoofs another analyst or drives the terminal. `$USER` and `$LOGNAME` are used only when the uid has no
//! passwd entry at all (an arbitrary container uid), and then cleaned: control and bidi characters are
//! dropped, whitespace trimmed, the length capped. With nothing usable, the uid itself (`uid-1234`) names
//! the person — never a shared "unknown" that would merge everyone's history.

use std::ffi::OsString;

/// The longest name kept (a name from the environment can be any length).
pub const NAME_MAX: usize = 64;

/// The name of the person running vigil: see the module documentation for the order.
pub fn current_user() -> String {
    let uid = rustix::process::getuid().as_raw();
    let passwd = name_of(uid);
    resolve(
        passwd,
        std::env::var_os("USER").or_else(|| std::env::var_os("LOGNAME")),
        uid,
    )
}

/// The login name of `uid`: its passwd entry, else the name service's (`getent`).
pub fn name_of(uid: u32) -> Option<String> {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| passwd_name(&text, uid))
        .or_else(|| getent_name(uid))
}

/// The groups `name` (primary group `gid`) belongs to, by name, from group-format text
/// (`name:x:gid:member,member`).
pub fn groups_in(text: &str, name: &str, gid: u32) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(':');
            let group = f.next()?;
            let _password = f.next()?;
            let id: u32 = f.next()?.trim().parse().ok()?;
            let members = f.next().unwrap_or("");
            let member = id == gid || members.split(',').any(|m| m.trim() == name);
            (member && !group.is_empty() && !group.starts_with('#')).then(|| group.to_string())
        })
        .collect()
}

/// The decision of [`current_user`], apart from the system it asks: the passwd name when there is one,
/// else the cleaned environment name, else `uid-N`.
pub fn resolve(passwd: Option<String>, env: Option<OsString>, uid: u32) -> String {
    passwd
        .and_then(|n| clean_name(&n))
        .or_else(|| env.and_then(|v| clean_name(&v.to_string_lossy())))
        .unwrap_or_else(|| format!("uid-{uid}"))
}

/// The login name of `uid` in passwd-format text (`name:x:uid:gid:gecos:home:shell`), if listed.
pub fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id: u32 = fields.next()?.trim().parse().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_string())
    })
}

/// Accounts from a directory service (LDAP, sssd) are not in `/etc/passwd`: ask the C library's name
/// service through `getent`, by absolute path (no `$PATH` lookup).
fn getent_name(uid: u32) -> Option<String> {
    let getent = ["/usr/bin/getent", "/bin/getent"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let out = std::process::Command::new(getent)
        .args(["passwd", &uid.to_string()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    passwd_name(&String::from_utf8_lossy(&out.stdout), uid)
}

/// A name fit for history and the screen: no control or bidi characters, no surrounding blanks, at most
/// [`NAME_MAX`] characters; `None` when nothing is left.
fn clean_name(raw: &str) -> Option<String> {
    let kept: String = raw
        .chars()
        .filter(|c| !c.is_control() && crate::model::text::bidi_marker(*c).is_none())
        .collect();
    let name: String = kept.trim().chars().take(NAME_MAX).collect();
    let name = name.trim_end().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n# comment:x:5\nana:x:1000:1000:Ana Lima,,,:/home/ana:/bin/zsh\nbob:x:1001:1001::/home/bob:/bin/sh\n";

    #[test]
    fn the_passwd_entry_of_the_uid_names_the_user() {
        assert_eq!(passwd_name(PASSWD, 1000).as_deref(), Some("ana"));
        assert_eq!(passwd_name(PASSWD, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(PASSWD, 4242), None);
        assert_eq!(passwd_name("broken line\n::\n", 0), None);
    }

    #[test]
    fn passwd_wins_over_the_environment_and_user_unset_is_not_unknown() {
        assert_eq!(
            resolve(Some("ana".into()), Some("mallory".into()), 1000),
            "ana"
        );
        assert_eq!(resolve(Some("ana".into()), None, 1000), "ana");
        assert_eq!(resolve(None, Some("ana".into()), 1000), "ana");
        assert_eq!(resolve(None, None, 1000), "uid-1000");
    }

    #[test]
    fn a_hostile_environment_name_is_cleaned() {
        let hostile = OsString::from("\x1b]0;pwned\x07 \u{202e}nimda\u{202c}\n");
        assert_eq!(resolve(None, Some(hostile), 7), "]0;pwned nimda");
        assert_eq!(
            resolve(None, Some(OsString::from("x".repeat(500))), 7),
            "x".repeat(NAME_MAX)
        );
        assert_eq!(resolve(None, Some(OsString::from(" \t\x1b ")), 7), "uid-7");
    }

    #[test]
    fn the_running_process_has_a_name() {
        let name = current_user();
        assert!(!name.is_empty());
        assert!(!name.chars().any(char::is_control));
        assert_ne!(name, "unknown");
    }
}
