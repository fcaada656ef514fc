//! Process filters, and `--no-tls-probes`.

use std::process::Stdio;
use std::time::Duration;

use cipherlens_integration::kernel::held_links;
use cipherlens_integration::{Sensor, TestBed};

use super::{
    boringssl_client, chain, chain_server, late_python, run_boringssl_client, session,
    wait_probed_files,
};

#[test]
fn filters_leave_processes_out_and_without_tls_probes_nothing_is_attached() {
    let bed = TestBed::light("probes-off");
    let link = &bed.link;
    let (server, _) = chain_server(&bed, &[]);
    let count_uprobes = |sensor: &Sensor| {
        held_links(sensor.pid())
            .iter()
            .filter(|link| link.link_type.contains("uprobe"))
            .count()
    };
    // With the probes (the default), the libraries s_server maps carry them.
    let sensor = bed.sensor(&[]);
    wait_probed_files(&sensor, 3.0, Duration::from_secs(20));
    assert!(count_uprobes(&sensor) > 0, "{:?}", held_links(sensor.pid()));
    drop(sensor.stop());

    // Excluded by its process name: probes stay attached (for others),
    // its session gets no chain. A process is filtered once it has been
    // scanned, so both clients wait a moment before their handshake.
    let sensor = bed.sensor(&["--tls-probe-exclude-executable", "python3"]);
    wait_probed_files(&sensor, 3.0, Duration::from_secs(60));
    let output = link
        .command("python3")
        .args(["-c", &late_python(&server, link, "excluded.test")])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(output.status.success(), "{output:?}");
    let boring = boringssl_client(bed.dir());
    run_boringssl_client(&boring, link, &sensor, &server, "included.test", &[]);
    let (records, stats, _) = sensor.stop();
    let excluded = session(&records, "excluded.test");
    assert!(
        excluded["cipherlens"]["tls"]["certificate_source"].is_null(),
        "{excluded}"
    );
    assert_eq!(chain(excluded), Vec::<String>::new());
    let included = session(&records, "included.test");
    assert_eq!(
        included["cipherlens"]["tls"]["certificate_source"]["library"], "boringssl",
        "{included}"
    );
    assert!(
        stats["tls_probes"]["coverage"]
            .as_array()
            .is_some_and(|groups| groups
                .iter()
                .any(|group| group["reason"] == "excluded_process")),
        "{stats}"
    );

    let sensor = bed.sensor(&["--no-tls-probes"]);
    link.python_handshake(server.port, "off.test");
    assert_eq!(count_uprobes(&sensor), 0, "{:?}", held_links(sensor.pid()));
    let (records, stats, _) = sensor.stop();
    assert!(stats["tls_probes"].is_null(), "{stats}");
    let record = session(&records, "off.test");
    assert!(record["cipherlens"]["tls"]["certificate_source"].is_null());
    assert_eq!(chain(record), Vec::<String>::new());
}
