//! The dashboard over HTTP against a real coordinator: who gets in (the client token as a
//! bearer header, the cookie set by `/?token=` or the sign-in form; the worker token and
//! strangers refused), the static files, and the JSON behind the pages, checked against
//! what the CLI says of the same sweep; and HTTPS when the coordinator has a certificate.

mod common;

use serde_json::Value;

use common::http::{get, request};
use common::{Cluster, TinySweep};

/// The client and worker tokens of `c`.
fn tokens(c: &Cluster) -> (String, String) {
    let access: Value =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();
    (
        access["client_token"].as_str().unwrap().to_string(),
        access["worker_token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn only_the_client_token_opens_the_dashboard() {
    let c = Cluster::start(0, 10.0);
    let d = c.dashboard.as_str();
    let (client, worker) = tokens(&c);

    let r = get(d, "/api/sweeps", None);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.json()["error"].as_str().unwrap().contains("client token"));
    let r = get(d, "/api/sweeps", Some(&worker));
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.json()["error"].as_str().unwrap().contains("worker token"));
    assert_eq!(get(d, "/api/sweeps", Some("not-a-token")).status, 401);
    let r = get(d, "/api/sweeps", Some(&client));
    assert_eq!((r.status, r.json()), (200, serde_json::json!([])));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // A browser without the cookie gets the sign-in form, not the page.
    let r = get(d, "/", None);
    assert_eq!(r.status, 401);
    assert!(
        r.body.contains(r#"<form method="post" action="/login">"#),
        "{}",
        r.body
    );
    assert!(!r.body.contains("echarts"), "{}", r.body);
    let r = get(d, "/?token=wrong", None);
    assert_eq!(r.status, 401);
    assert!(
        r.body.contains("not this coordinator's client token"),
        "{}",
        r.body
    );
    assert!(
        get(d, &format!("/?token={worker}"), None)
            .body
            .contains("worker token")
    );

    // The URL `gptsweep local` prints: the cookie, then the page without the token.
    let r = get(d, &format!("/?token={client}"), None);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.header("set-cookie").unwrap();
    let hexed: String = client.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        cookie,
        format!("gptsweep_token={hexed}; Path=/; HttpOnly; SameSite=Lax")
    );
    let with_cookie = format!("theme=dark; gptsweep_token={hexed}");
    let r = request(d, "GET", "/", &[("Cookie", &with_cookie)], "", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body
            .contains(r#"<script src="/static/vendor/echarts.min.js">"#)
    );
    let r = request(
        d,
        "GET",
        "/api/sweeps",
        &[("Cookie", &with_cookie)],
        "",
        None,
    );
    assert_eq!(r.status, 200);
    // A cookie holding the token itself, not its hex, opens nothing.
    let raw = format!("gptsweep_token={client}");
    let r = request(d, "GET", "/api/sweeps", &[("Cookie", &raw)], "", None);
    assert_eq!(r.status, 401);

    // The sign-in form and signing out.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = request(d, "POST", "/login", &form, &format!("token={client}"), None);
    assert_eq!((r.status, r.header("location")), (303, Some("/")));
    assert!(
        r.header("set-cookie")
            .unwrap()
            .starts_with(&format!("gptsweep_token={hexed};"))
    );
    let r = request(d, "POST", "/login", &form, "token=nope", None);
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    let r = request(d, "POST", "/logout", &[], "", None);
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));

    // The static files hold no data: anyone may fetch them, and caches revalidate.
    let r = get(d, "/static/vendor/echarts.min.js", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(r.body.len() > 500_000, "{}", r.body.len());
    let etag = r.header("etag").unwrap().to_string();
    let r = request(
        d,
        "GET",
        "/static/vendor/echarts.min.js",
        &[("If-None-Match", &etag)],
        "",
        None,
    );
    assert_eq!((r.status, r.body.as_str()), (304, ""));
    assert_eq!(get(d, "/static/index.html", None).status, 404);
    assert_eq!(get(d, "/static/../access.json", None).status, 404);
    let r = get(d, "/nope", Some(&client));
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
}

#[test]
fn the_json_behind_the_pages_is_what_the_cli_reads() {
    let c = Cluster::start(1, 10.0);
    let d = c.dashboard.as_str();
    let (client, _) = tokens(&c);
    let sweep = TinySweep::new("dash")
        .grid("lr", &[0.01, 0.001])
        .samples(1, 20);
    c.submit(&sweep);
    let status = c.json(&["status", "dash", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{status}\n{}", c.logs());

    let view = get(d, "/api/sweeps/dash", Some(&client)).json();
    assert_eq!(view["summary"]["name"], "dash");
    assert_eq!(view["summary"]["runs"]["finished"], 2);
    assert_eq!(
        view["axes"],
        serde_json::json!([{"name": "lr", "scale": "category", "values": [0.01, 0.001]}])
    );
    let top = c.json(&["top", "dash", "-n", "0"]);
    let ranked = |rows: &Value| -> Vec<i64> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["run"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ranked(&view["leaderboard"]), ranked(&top));
    assert_eq!(view["importance"], Value::Null);
    assert!(
        view["importance_note"]
            .as_str()
            .unwrap()
            .contains("at least 5"),
        "{view}"
    );
    // The id works as well as the name.
    let id = view["summary"]["id"].as_i64().unwrap();
    assert_eq!(
        get(d, &format!("/api/sweeps/{id}"), Some(&client)).json()["summary"]["name"],
        "dash"
    );

    let curves = get(d, "/api/sweeps/dash/curves", Some(&client)).json();
    let curves = curves.as_array().unwrap();
    assert_eq!(curves.len(), 2);
    for curve in curves {
        let run = curve["run"].as_i64().unwrap().to_string();
        let show = c.json(&["show", &run]);
        assert_eq!(curve["state"], "finished");
        assert_eq!(curve["params"], show["swept"]);
        assert_eq!(curve["steps"], serde_json::json!([10, 20]));
        let evals = show["evals"].as_array().unwrap();
        // Losses are stored as f32: the same number in either form.
        let f32_at = |v: &Value| v.as_f64().unwrap() as f32;
        for (i, e) in evals.iter().enumerate() {
            for key in ["val_loss", "train_loss"] {
                assert_eq!(f32_at(&curve[key][i]), f32_at(&e[key]), "{curve}\n{show}");
            }
        }
        let detail = get(d, &format!("/api/runs/{run}"), Some(&client)).json();
        let steps = |evals: &Value| -> Vec<(u64, f32)> {
            evals
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["step"].as_u64().unwrap(), f32_at(&e["val_loss"])))
                .collect()
        };
        assert_eq!(steps(&detail["evals"]), steps(&show["evals"]));
        assert_eq!(detail["samples"].as_array().unwrap().len(), 1);
        assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    }

    let r = get(d, "/api/runs/abc", Some(&client));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("not a run id"));
    assert_eq!(get(d, "/api/runs/999", Some(&client)).status, 404);
    assert_eq!(get(d, "/api/sweeps/none", Some(&client)).status, 404);
    assert_eq!(get(d, "/api/sweeps/none/curves", Some(&client)).status, 404);
}

#[test]
fn with_a_certificate_the_dashboard_speaks_https_and_its_cookie_is_secure() {
    let c = Cluster::start_tls(0, 10.0);
    assert!(c.dashboard.starts_with("https://"), "{}", c.dashboard);
    let (client, _) = tokens(&c);
    let ca = c.tls.as_ref().unwrap().ca.clone();
    let bearer = format!("Bearer {client}");
    let r = request(
        &c.dashboard,
        "GET",
        "/api/sweeps",
        &[("Authorization", &bearer)],
        "",
        Some(&ca),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "[]"));
    let r = request(
        &c.dashboard,
        "GET",
        &format!("/?token={client}"),
        &[],
        "",
        Some(&ca),
    );
    assert_eq!(r.status, 303);
    assert!(
        r.header("set-cookie").unwrap().ends_with("; Secure"),
        "{r:?}"
    );
}
