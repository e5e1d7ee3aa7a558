//! The daemon lifecycle through the real binary: start → status → logs → doctor → stop, restart, stale PID
//! files, a second start on a busy PID file, the foreground PID file, and purge refused while running.

use std::process::Stdio;

use serde_json::Value;

use super::{Home, alive, free_port, started, wait_until};

#[test]
fn daemon_start_status_logs_doctor_stop_cycle() {
    let home = Home::new();
    let (pid, port) = home.start_daemon(&["--port", "0"]);
    assert_ne!(port, 0);
    assert!(alive(pid));
    let rec = home.pid_file(port).expect("the PID file names the real port");
    assert_eq!((rec["pid"].as_u64(), rec["port"].as_u64()), (Some(pid.into()), Some(port.into())));
    let p = port.to_string();

    let out = home.run(&["server", "status", "--port", &p, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let s: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(s["running"], true);
    assert_eq!(s["pid"].as_u64(), Some(pid.into()));
    assert_eq!(s["port"].as_u64(), Some(port.into()));
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["uptime_seconds"].is_u64() && s["agents_online"] == 0 && s["open_threads"] == 0, "{s}");
    let human = home.run(&["server", "status", "--port", &p]);
    assert!(human.stdout.contains(&format!("Coordinator running (PID {pid}, port {port})")), "{human:?}");

    let logs = home.run(&["server", "logs", "-n", "20"]);
    assert_eq!(logs.code, 0, "{logs:?}");
    assert!(logs.stdout.contains("[app] listening"), "{}", logs.stdout);
    let filtered = home.run(&["server", "logs", "--level", "error", "--grep", "listening"]);
    assert!(!filtered.stdout.contains("listening"), "{filtered:?}");

    let doctor = home.run(&["doctor", "--port", &p]);
    assert_eq!(doctor.code, 0, "{doctor:?}");
    for check in ["[ok] pid", "[ok] livez", "[ok] readyz", "[ok] mcp", "[ok] store", "[ok] mqtt"] {
        assert!(doctor.stdout.contains(check), "missing {check}: {}", doctor.stdout);
    }
    let json = home.run(&["doctor", "--port", &p, "--json"]);
    assert_eq!(serde_json::from_str::<Value>(json.stdout.trim()).unwrap()["ok"], true);

    let again = home.run(&["server", "start", "--daemon", "--port", &p]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains(&format!("already running on port {port} (PID {pid})")), "{again:?}");

    let purge = home.run(&["uninstall", "--purge", "--force"]);
    assert_eq!(purge.code, 1, "{purge:?}");
    assert!(purge.stderr.contains("refusing to purge") && home.config_dir().exists(), "{purge:?}");

    let stop = home.run(&["server", "stop", "--port", &p]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stdout.contains(&format!("Coordinator stopped (PID {pid}, port {port})")), "{stop:?}");
    assert!(!alive(pid) && home.pid_file(port).is_none());

    let status = home.run(&["server", "status", "--port", &p, "--json"]);
    assert_eq!(status.code, 3, "{status:?}");
    assert_eq!(serde_json::from_str::<Value>(status.stdout.trim()).unwrap()["running"], false);
    let doctor = home.run(&["doctor", "--port", &p]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(doctor.stdout.contains("[fail] pid — the server was never started"), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("[fail] livez") && doctor.stdout.contains("server start --daemon"));
    assert_eq!(home.run(&["server", "stop", "--port", &p]).code, 0, "stopping a stopped server is fine");
}

#[test]
fn restart_replaces_the_process() {
    let home = Home::new();
    let port = free_port();
    let p = port.to_string();
    let (first, _) = home.start_daemon(&["--port", &p]);
    let out = home.run(&["server", "restart", "--port", &p]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains(&format!("Coordinator stopped (PID {first}")), "{out:?}");
    let (second, second_port) = started(&out.stdout);
    assert_ne!(first, second);
    assert_eq!(second_port, port);
    assert!(!alive(first) && alive(second));
    let s: Value = serde_json::from_str(home.run(&["server", "status", "--port", &p, "--json"]).stdout.trim()).unwrap();
    assert_eq!(s["pid"].as_u64(), Some(second.into()));
    assert_eq!(home.run(&["server", "stop", "--port", &p]).code, 0);
}

/// A PID that certainly is not running: a child that already exited and was reaped.
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn stale_pid_file_is_detected_and_replaced() {
    let home = Home::new();
    let port = free_port();
    let p = port.to_string();
    std::fs::create_dir_all(home.config_dir()).unwrap();
    let stale = dead_pid();
    let file = home.config_dir().join(format!("server-{port}.pid"));
    std::fs::write(&file, format!(r#"{{"pid":{stale},"port":{port},"started_at":"2026-01-01T00:00:00Z"}}"#)).unwrap();

    let status = home.run(&["server", "status", "--port", &p]);
    assert_eq!(status.code, 3, "{status:?}");
    assert!(status.stderr.contains(&format!("stale PID file {} (PID {stale} is not running)", file.display())));
    let doctor = home.run(&["doctor", "--port", &p]);
    assert!(doctor.stdout.contains(&format!("[fail] pid — PID {stale} from")), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("the server died"), "{}", doctor.stdout);

    let out = home.run(&["server", "start", "--daemon", "--port", &p]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("removing stale PID file"), "{out:?}");
    let (pid, _) = started(&out.stdout);
    assert_eq!(home.pid_file(port).unwrap()["pid"].as_u64(), Some(pid.into()));
    assert_eq!(home.run(&["server", "stop", "--port", &p]).code, 0);

    // `stop` also cleans a stale file.
    std::fs::write(&file, format!(r#"{{"pid":{stale},"port":{port}}}"#)).unwrap();
    let stop = home.run(&["server", "stop", "--port", &p]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stdout.contains("removed stale PID file") && !file.exists(), "{stop:?}");
}

/// Kills a foreground server child on drop.
struct Foreground(std::process::Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn foreground_start_writes_and_removes_its_pid_file() {
    let home = Home::new();
    let port = free_port();
    let mut fg = Foreground(
        home.cmd(&["server", "start", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = fg.0.id();
    wait_until("the PID file", || home.pid_file(port).is_some_and(|r| r["pid"].as_u64() == Some(pid.into())));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = fg.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(home.pid_file(port).is_none(), "the PID file is removed on a graceful stop");
}
