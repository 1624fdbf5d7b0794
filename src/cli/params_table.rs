//! A run's hyperparameters as an aligned table for `show`: one row a parameter, the swept
//! ones marked, values as a person reads them (strings bare, floats to 6 significant
//! digits, an unset option as `-`). `--output json` keeps the exact values.

use serde_json::{Map, Value};

use super::table;

/// The table of `hyperparams`, the keys of `swept` marked `*` (and listed first).
pub fn render(hyperparams: &Map<String, Value>, swept: &Map<String, Value>) -> String {
    let mut rows: Vec<(bool, &String, &Value)> = hyperparams
        .iter()
        .map(|(k, v)| (swept.contains_key(k), k, swept.get(k).unwrap_or(v)))
        .collect();
    // Swept values the hyperparameters lack still show.
    rows.extend(
        swept
            .iter()
            .filter(|(k, _)| !hyperparams.contains_key(*k))
            .map(|(k, v)| (true, k, v)),
    );
    rows.sort_by_key(|(is_swept, k, _)| (!is_swept, k.as_str()));
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(is_swept, k, v)| {
            vec![
                if is_swept { "*" } else { "" }.to_string(),
                k.clone(),
                value(v),
            ]
        })
        .collect();
    table::render(&["", "HYPERPARAMETER", "VALUE"], &rows)
}

/// A value as a person reads it.
fn value(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => float(n.as_f64().unwrap_or(f64::NAN)),
        other => other.to_string(),
    }
}

/// `x` to 6 significant digits, without trailing zeros; scientific when tiny or huge.
fn float(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        let s = format!("{x:.5e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (5 - magnitude).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_short() {
        assert_eq!(float(0.006771470772753774), "0.00677147");
        assert_eq!(float(0.001), "0.001");
        assert_eq!(float(3e-5), "3e-5");
        assert_eq!(float(1.5e-7), "1.5e-7");
        assert_eq!(float(0.2), "0.2");
        assert_eq!(float(123.456789), "123.457");
    }

    #[test]
    fn swept_rows_come_first_aligned_and_marked() {
        let hp: Map<String, Value> = serde_json::from_str(
            r#"{"batch_size": 64, "dropout": 0.1, "min_lr": null, "tokenizer": "char"}"#,
        )
        .unwrap();
        let swept: Map<String, Value> =
            serde_json::from_str(r#"{"dropout": 0.006771470772753774}"#).unwrap();
        let text = render(&hp, &swept);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "   HYPERPARAMETER  VALUE");
        assert_eq!(lines[1], "*  dropout         0.00677147");
        assert_eq!(lines[2], "   batch_size      64");
        assert_eq!(lines[3], "   min_lr          -");
        assert_eq!(lines[4], "   tokenizer       char");
    }
}
