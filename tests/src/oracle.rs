//! The independent oracles on the wire: a tcpdump capture beside the
//! sensor, and tshark's reading of it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{run, signal, wait_exit};

/// A tcpdump writing `path` from `interface` until dropped (then flushed).
pub struct Tcpdump {
    child: Option<Child>,
    pub path: PathBuf,
}

impl Tcpdump {
    pub fn start(interface: &str, path: &Path) -> Self {
        // stderr goes to a file: a closed pipe would kill tcpdump with
        // SIGPIPE when it prints its summary at exit, before it has written
        // the packets still in its capture buffer.
        let log = path.with_extension("tcpdump.err");
        let child = Command::new("tcpdump")
            // --immediate-mode: packets are handed over as they come, so none
            // wait in a half-filled capture block when tcpdump is stopped.
            .args(["-i", interface, "--immediate-mode", "-U", "-s", "0", "-w"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("tcpdump log"))
            .spawn()
            .expect("start tcpdump");
        // tcpdump says "listening on" once it captures.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::fs::read_to_string(&log).is_ok_and(|text| text.contains("listening on")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Tcpdump {
            child: Some(child),
            path: path.to_path_buf(),
        }
    }

    /// Stops the capture and returns its file.
    pub fn finish(mut self) -> PathBuf {
        if let Some(mut child) = self.child.take() {
            signal(&child, "INT");
            let _ = wait_exit(&mut child, Duration::from_secs(5));
            let _ = child.kill();
            let _ = child.wait();
        }
        self.path.clone()
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `tshark -T fields` over a capture: one line per frame with values.
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_fields_decoding(pcap, None, filter, fields)
}

/// [`tshark_fields`] with a "decode as" rule (`udp.port==N,quic`): tshark
/// finds QUIC on unusual ports by heuristics that a port registered to
/// another protocol can defeat.
pub fn tshark_fields_decoding(
    pcap: &Path,
    decode_as: Option<&str>,
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut args = vec![
        "-o".to_string(),
        "tls.desegment_ssl_records:TRUE".to_string(),
        "-r".to_string(),
        pcap.display().to_string(),
        "-Y".to_string(),
        filter.to_string(),
        "-T".to_string(),
        "fields".to_string(),
        "-E".to_string(),
        "separator=|".to_string(),
    ];
    if let Some(rule) = decode_as {
        args.push("-d".to_string());
        args.push(rule.to_string());
    }
    for field in fields {
        args.push("-e".to_string());
        args.push((*field).to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run("tshark", &refs)
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split('|').map(str::to_string).collect())
        .collect()
}
