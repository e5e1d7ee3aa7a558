//! Each operator error is one clear line with a hint and a non-zero exit code, never a panic: a busy port,
//! an unwritable data directory, a malformed config.json, a daemon that dies during boot, a daemon that does
//! not bind within the timeout.

use super::{Home, free_port};

/// The message line: prefixed, one line, with a hint.
fn one_clear_line(stderr: &str, needle: &str) {
    let line = stderr.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {stderr:?}"));
    assert!(line.starts_with("mcp-coordinator: "), "{line}");
    assert!(line.contains("hint:") || line.contains("run `mcp-coordinator init`"), "no hint: {line}");
    assert!(!stderr.contains("panicked") && !stderr.contains("stack backtrace"), "{stderr}");
}

#[test]
fn busy_port_is_refused_in_foreground_and_as_daemon() {
    let home = Home::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    for args in [vec!["server", "start", "--port", &port], vec!["server", "start", "--daemon", "--port", &port]] {
        let out = home.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        one_clear_line(&out.stderr, &format!("cannot listen on 127.0.0.1:{port}"));
        assert!(out.stderr.contains("choose another --port"), "{out:?}");
    }
}

#[test]
fn unwritable_data_dir_is_refused() {
    let home = Home::new();
    // Tests run as root, which ignores permission bits: a path under a regular file can never be created.
    let file = home.path().join("afile");
    std::fs::write(&file, "").unwrap();
    let data = file.join("data");
    let data = data.to_str().unwrap();
    for args in [
        vec!["server", "start", "--port", "0", "--data-dir", data],
        vec!["server", "start", "--daemon", "--port", "0", "--data-dir", data],
    ] {
        let out = home.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        one_clear_line(&out.stderr, "unusable data directory");
        assert!(out.stderr.contains(data) && out.stderr.contains("--data-dir"), "{out:?}");
    }
}

#[test]
fn malformed_config_json_is_a_config_error() {
    let home = Home::new();
    std::fs::create_dir_all(home.config_dir()).unwrap();
    std::fs::write(home.config_dir().join("config.json"), "{\"server\": {\"port\": ").unwrap();
    let out = home.run(&["server", "start", "--port", "0"]);
    assert_eq!(out.code, 64, "{out:?}");
    one_clear_line(&out.stderr, "malformed JSON");
    assert!(out.stderr.contains("config.json"), "{out:?}");
    let doctor = home.run(&["doctor"]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(doctor.stdout.contains("[fail] config.json"), "{}", doctor.stdout);
    let out = home.run(&["server", "start", "--port", "0", "--log-json", "maybe"]);
    assert_eq!(out.code, 2, "clap usage error: {out:?}");
}

#[test]
fn daemon_dying_during_boot_shows_its_log() {
    let home = Home::new();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("coordinator.db"), "this is not a SQLite database, just some text ".repeat(20)).unwrap();
    let port = free_port().to_string();
    let out = home.run(&["server", "start", "--daemon", "--port", &port, "--data-dir", data.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    one_clear_line(&out.stderr, "the daemon died during boot");
    assert!(out.stderr.contains("exited during start-up") && out.stderr.contains("not a database"), "{out:?}");
    let doctor = home.run(&["doctor", "--port", &port]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(doctor.stdout.contains("the server died during boot"), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("not a database"), "the log tail is shown: {}", doctor.stdout);
}

#[test]
fn daemon_bind_timeout_keeps_the_pid_file() {
    let home = Home::new();
    let port = free_port();
    let p = port.to_string();
    let out = home.run_with(
        &["server", "start", "--daemon", "--port", &p],
        &[("COORDINATOR_DAEMON_BIND_TIMEOUT_MS", "1")],
        "",
    );
    assert_eq!(out.code, 1, "{out:?}");
    one_clear_line(&out.stderr, &format!("did not accept connections on port {port} within 1 ms"));
    assert!(out.stderr.contains(&format!("server stop --port {port}")), "{out:?}");
    assert!(home.pid_file(port).is_some(), "the PID file is kept");
    let stop = home.run(&["server", "stop", "--port", &p]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(home.pid_file(port).is_none());
}

#[test]
fn doctor_checks_redis_when_configured() {
    let home = Home::new();
    let down = home.run_with(&["doctor"], &[("COORDINATOR_REDIS_URL", "redis://:secret@127.0.0.1:1")], "");
    assert_eq!(down.code, 1, "{down:?}");
    assert!(down.stdout.contains("[fail] redis — redis://:***@127.0.0.1:1"), "{}", down.stdout);
    assert!(!down.stdout.contains("secret"), "the password is never printed: {}", down.stdout);
    let up = home.run_with(&["doctor"], &[("COORDINATOR_REDIS_URL", "redis://127.0.0.1:6379")], "");
    assert!(up.stdout.contains("[ok] redis — redis://127.0.0.1:6379 answers PING"), "{}", up.stdout);
}
