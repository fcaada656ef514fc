//! The Helm chart's example NATS configuration (`natsExample`), run by a
//! real nats-server, keeps directives to operators: the sensor publishes its
//! records into the example's stream and answers an operator's directives,
//! while a directive sent with the sensor's or the inventory's credentials
//! is refused by the server and changes nothing. deploy/README.md's threat
//! model rests on this.

use std::time::Duration;

use async_nats::ConnectOptions;
use cipherlens_integration::nats::runtime;
use cipherlens_integration::{NatsServer, TestBed, free_port, repo_root};
use serde_json::Value;

use cipherlens_integration::deploy::helm;

const PASSWORDS: [(&str, &str); 3] = [
    ("SENSOR", "sensor-secret"),
    ("OPERATOR", "operator-secret"),
    ("INVENTORY", "inventory-secret"),
];

/// The literal block under `key: |` in `yaml`, dedented.
fn block(yaml: &str, key: &str) -> String {
    let mut lines = yaml
        .lines()
        .skip_while(|line| line.trim() != format!("{key}: |"));
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("{key} in the render"));
    let indent = header.len() - header.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|line| line.trim().is_empty() || line.len() - line.trim_start().len() > indent)
        .collect();
    let inner = body
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|line| line.get(inner..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example's nats.conf and the stream's subjects, as the chart renders them.
fn rendered_example(scratch: &std::path::Path) -> (String, Vec<String>) {
    let output = helm(scratch)
        .args(["template", "cipherlens"])
        .arg(repo_root().join("deploy/helm/cipherlens"))
        .args([
            "--set",
            "natsExample.enabled=true",
            "--show-only",
            "templates/nats-example.yaml",
        ])
        .output()
        .expect("helm (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = String::from_utf8_lossy(&output.stdout).into_owned();
    let conf = block(&yaml, "nats.conf");
    let subjects = yaml
        .split("--subjects \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the stream's --subjects")
        .split(',')
        .map(str::to_owned)
        .collect();
    (conf, subjects)
}

fn connect(runtime: &tokio::runtime::Runtime, url: &str, user: &str) -> async_nats::Client {
    let password = PASSWORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(user))
        .map(|(_, password)| *password)
        .expect("a user of the example");
    runtime
        .block_on(ConnectOptions::with_user_and_password(user.into(), password.into()).connect(url))
        .unwrap_or_else(|error| panic!("{user} connects: {error}"))
}

/// The reply to a directive within two seconds, if one comes.
fn ask(
    runtime: &tokio::runtime::Runtime,
    client: &async_nats::Client,
    subject: &str,
    directive: &str,
) -> Option<Value> {
    runtime.block_on(async {
        match tokio::time::timeout(
            Duration::from_secs(2),
            client.request(subject.to_string(), directive.to_string().into()),
        )
        .await
        {
            Ok(Ok(reply)) => serde_json::from_slice(&reply.payload).ok(),
            _ => None,
        }
    })
}

#[test]
fn the_example_nats_users_keep_directives_to_operators() {
    let bed = TestBed::light("nats-permissions");
    let (mut conf, subjects) = rendered_example(bed.dir());
    // The test's own store (the server's `-sd`) and no monitoring port;
    // the passwords the Secret would hold, in place of their environment
    // variables.
    conf = conf.replace("store_dir: /data", "");
    conf = conf.replace("http_port: 8222", "");
    for (user, password) in PASSWORDS {
        conf = conf.replace(&format!("${user}_PASSWORD"), &format!("{password:?}"));
    }
    let conf_path = bed.dir().join("nats.conf");
    std::fs::write(&conf_path, &conf).expect("nats.conf");
    let nats = NatsServer::start(free_port(), &["-c", conf_path.to_str().expect("UTF-8")]);
    let url = nats.url();
    let runtime = runtime();
    let _context = runtime.enter();

    // The stream as the chart's Job makes it, by the inventory user.
    let inventory = connect(&runtime, &url, "inventory");
    let jetstream = async_nats::jetstream::new(inventory.clone());
    runtime
        .block_on(
            jetstream.create_stream(async_nats::jetstream::stream::Config {
                name: "CIPHERLENS".into(),
                subjects: subjects.clone(),
                ..Default::default()
            }),
        )
        .expect("the inventory user creates the stream");

    let server_name = "permissions.cipherlens.test";
    let certificate = bed.certificate(server_name);
    let server = bed.s_server(&certificate, &[]);
    let _sensor = bed.sensor(&[
        "--nats-url",
        &url,
        "--nats-user",
        "sensor",
        "--nats-password",
        "sensor-secret",
        "--nats-jetstream",
        "--node",
        "perm.node",
    ]);
    let node = "cipherlens.directive.perm_node";
    let operator = connect(&runtime, &url, "operator");
    let status =
        |client: &async_nats::Client| ask(&runtime, client, node, r#"{"directive":"status"}"#);
    let first = status(&operator).expect("the operator's directive is answered");
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["status"]["sampling_rate"], 1.0);

    // Records reach the stream (the sensor may publish them, with acks).
    bed.link.s_client(
        &format!("{}:{}", bed.link.host_v4, server.port),
        server_name,
        &[],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let session_subject = "cipherlens.tls.session.perm_node";
    loop {
        let found = runtime.block_on(async {
            let mut stream = jetstream.get_stream("CIPHERLENS").await.expect("stream");
            let count = stream.info().await.expect("info").state.messages;
            for sequence in 1..=count {
                let message = stream.get_raw_message(sequence).await.expect("message");
                if message.subject.as_str() == session_subject {
                    let record: Value = serde_json::from_slice(&message.payload).expect("JSON");
                    if record["tls"]["client"]["server_name"] == server_name {
                        return true;
                    }
                }
            }
            false
        });
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no session record in the stream"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The sensor's and the inventory's credentials cannot send directives:
    // no answer, and the sampling rate stays.
    let sensor_user = connect(&runtime, &url, "sensor");
    for client in [&sensor_user, &inventory] {
        let answer = ask(
            &runtime,
            client,
            node,
            r#"{"directive":"sampling","rate":0.5}"#,
        );
        assert_eq!(answer, None, "a directive got through: {answer:?}");
    }
    let after = status(&operator).expect("status");
    assert_eq!(after["status"]["sampling_rate"], 1.0, "{after}");
    // The operator's does change it: the refusal above was the server's.
    let changed = ask(
        &runtime,
        &operator,
        node,
        r#"{"directive":"sampling","rate":0.5}"#,
    )
    .expect("the operator's directive is answered");
    assert_eq!(changed["ok"], true, "{changed}");
    let last = status(&operator).expect("status");
    assert_eq!(last["status"]["sampling_rate"], 0.5, "{last}");
    // The stream holds no directive (it would have answered with an ack).
    assert!(
        subjects
            .iter()
            .all(|subject| !subject.contains("directive"))
    );
}
