//! TLS end to end with real processes: a coordinator serving a certificate of a private
//! CA, a worker and the CLI reaching it over https:// with `--tls-ca`; clients that do not
//! trust it or do not speak TLS refused without harming the server; bad certificate and
//! key files refused before any state is written.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Cluster, TinySweep, bin, certs, eval_steps, shakespeare};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_sweep_runs_end_to_end_over_tls() {
    let c = Cluster::start_tls(1, 10.0);
    assert!(c.url.starts_with("https://127.0.0.1:"), "{}", c.url);
    c.write("corpus.txt", &shakespeare(20_000));
    let secure = TinySweep::new("secure")
        .dataset("corpus.txt")
        .grid("lr", &[0.001, 0.003])
        .max_iters(20)
        .eval_interval(10)
        .sample_prompt("A")
        .samples(1, 10)
        .sample_seed(1);
    assert_eq!(c.submit(&secure)["runs"], 2);

    let status = c.json(&["status", "secure", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    assert_eq!(status["evals_stored"], 4);
    let top = c.json(&["top", "secure"]);
    let best = top[0]["run"].as_i64().unwrap().to_string();
    let show = c.json(&["show", &best]);
    assert_eq!(eval_steps(&show), vec![10, 20]);
    assert_eq!(c.json(&["workers"]).as_array().unwrap().len(), 1);
}

#[test]
fn clients_that_do_not_trust_or_speak_tls_are_refused_and_the_server_carries_on() {
    let c = Cluster::start_tls(0, 10.0);
    let tls = c.tls.clone().unwrap();
    let access = c.token_file();
    // `sweeps` with `args` must fail with exit `code` and a message containing `what`.
    let refused_with = |code: i32, args: &[&str], what: &str| {
        let out = Command::new(bin())
            .arg("sweeps")
            .args(args)
            .arg("--token-file")
            .arg(&access)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(what), "{args:?}: {}", stderr(&out));
    };
    let refused = |args: &[&str], what: &str| refused_with(1, args, what);
    let plain = c.url.replace("https://", "http://");
    let (ca, stranger, key) = (
        tls.ca.to_str().unwrap(),
        tls.stranger_ca.to_str().unwrap(),
        tls.key.to_str().unwrap(),
    );
    // Plain text to a TLS port: no answer, and a hint at the scheme when the server's TLS
    // alert is read as a bad frame; when its close (a reset) comes first, the client sees
    // only that, as for any coordinator that closes the connection.
    let out = Command::new(bin())
        .args(["sweeps", "--coordinator", &plain, "--token-file"])
        .arg(&access)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("use https://") || stderr(&out).contains("closed the connection"),
        "{}",
        stderr(&out)
    );
    // A CA that did not sign the coordinator's certificate; no CA at all (system roots).
    refused(
        &["--coordinator", &c.url, "--tls-ca", stranger],
        "give --tls-ca",
    );
    refused(&["--coordinator", &c.url], "--tls-ca");
    // A CA with a plain http:// address is a mistake, said before any call.
    refused(
        &["--coordinator", &plain, "--tls-ca", ca],
        "is plain http://",
    );
    // A CA file that holds no certificate: bad input, exit 2.
    refused_with(
        2,
        &["--coordinator", &c.url, "--tls-ca", key],
        "no certificate found",
    );

    // None of that harmed the server: the right CA and token still get answers.
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 0);
}

fn coordinator_with(dir: &Path, cert: &Path, key: &Path) -> Output {
    Command::new(bin())
        .args([
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--dashboard",
            "off",
            "--state-dir",
        ])
        .arg(dir.join("state"))
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .output()
        .unwrap()
}

#[test]
fn bad_certificate_or_key_files_are_refused_before_any_state_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certs::generate(&dir.path().join("tls"));
    let missing = dir.path().join("missing.pem");
    let cases = [
        (&missing, &tls.key, "--tls-cert", "missing.pem"),
        (&tls.key, &tls.key, "--tls-cert", "no certificate found"),
        (&tls.cert, &tls.cert, "--tls-key", "no private key found"),
        (
            &tls.cert,
            &tls.other_key,
            "--tls-key",
            "does not belong to the certificate",
        ),
        (&tls.ca, &tls.ca_key, "--tls-cert", "is a CA certificate"),
        (&tls.expired.0, &tls.expired.1, "--tls-cert", "expired"),
    ];
    for (cert, key, flag, what) in cases {
        let out = coordinator_with(dir.path(), cert, key);
        let err = stderr(&out);
        // A certificate or key file that breaks a rule is bad input (exit 2).
        assert_eq!(out.status.code(), Some(2), "{cert:?} {key:?}: {err}");
        assert!(
            err.contains(flag) && err.contains(what),
            "{cert:?} {key:?}: {err}"
        );
        assert!(
            !dir.path().join("state").exists(),
            "state written for {cert:?} {key:?}"
        );
    }

    // One without the other is a usage error.
    let out = Command::new(bin())
        .args([
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--dashboard",
            "off",
            "--tls-cert",
        ])
        .arg(&tls.cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tls-key"), "{}", stderr(&out));
}
