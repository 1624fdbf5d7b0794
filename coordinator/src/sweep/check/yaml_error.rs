//! serde-saphyr's parse errors in gptsweep's words: the key at the error's position, the
//! value written there, and the rule it broke, instead of the library's internals
//! ("set DuplicateKeyPolicy in Options", "untagged enum Scalar", "invalid u64").

/// The message for a parse error `raw` (the library's first line, position removed) found
/// at 1-based `line` and `column` of `yaml` (0 when unknown).
pub(super) fn reword(raw: &str, yaml: &str, line: usize, column: usize) -> String {
    let at = Position::find(yaml, line, column);
    let key = at.key.as_deref().unwrap_or("the value");
    let value = at.value.as_deref().unwrap_or("");
    if let Some(dup) = raw.strip_prefix("duplicate mapping key: ") {
        let dup = dup.split(", set DuplicateKeyPolicy").next().unwrap_or(dup);
        return format!("{dup}: the key is given twice (each key may appear once in its section)");
    }
    if raw.contains("untagged enum Scalar") {
        return format!(
            "{key}: {value} is not a single value (expected a number, true/false or text, \
             not a list or map)"
        );
    }
    if raw.contains("invalid u64") {
        return format!(
            "{key}: {value} must be a whole number from 0 to {}",
            u64::MAX
        );
    }
    if raw.contains("invalid i64") {
        return format!(
            "{key}: {value} must be a whole number from {} to {}",
            i64::MIN,
            i64::MAX
        );
    }
    if raw.contains("invalid f64") {
        return format!("{key}: {value} must be a number");
    }
    if raw.starts_with("expected string scalar") {
        return format!("{key}: {value} must be text, not a list or map");
    }
    if let Some(field) = raw
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        let expected = raw
            .split_once(", expected ")
            .map(|(_, e)| format!(" (known keys: {})", gptsweep_keys(&e.replace('`', ""))))
            .unwrap_or_default();
        return format!("{field}: unknown key{expected}");
    }
    if let Some(field) = raw
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        return format!("{field}: required key is missing");
    }
    if let Some(float) = raw.strip_prefix("non-finite float ") {
        let float = float.split(' ').next().unwrap_or(float).replace('`', "");
        return format!("non-finite float {float} for {key}: numbers must be finite");
    }
    match &at.key {
        Some(k) => format!("{k}: {raw}"),
        None => raw.to_string(),
    }
}

/// serde's list of a section's keys ("one of a, b, c") without the W&B keys that are
/// only there to be refused with a reason (`wandb.rs`).
fn gptsweep_keys(expected: &str) -> String {
    let list = expected.strip_prefix("one of ").unwrap_or(expected);
    let keys: Vec<&str> = list.split(", ").collect();
    let in_params = keys.contains(&"distribution");
    keys.iter()
        .filter(|k| {
            let wandb_only = matches!(
                **k,
                "program"
                    | "command"
                    | "project"
                    | "entity"
                    | "mu"
                    | "sigma"
                    | "q"
                    | "probabilities"
                    | "target"
            ) || (in_params && **k == "parameters");
            !wandb_only
        })
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the text says at an error's position: the nearest key before it on its line (or
/// the line above, for a block list), and the value written there.
struct Position {
    key: Option<String>,
    value: Option<String>,
}

impl Position {
    fn find(yaml: &str, line: usize, column: usize) -> Self {
        let lines: Vec<&str> = yaml.lines().collect();
        let Some(text) = line.checked_sub(1).and_then(|i| lines.get(i)) else {
            return Self {
                key: None,
                value: None,
            };
        };
        let split = text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map(|(i, _)| i)
            .unwrap_or(text.len());
        let (before, after) = text.split_at(split);
        let key = last_key(before).or_else(|| {
            (1..line)
                .rev()
                .filter_map(|l| lines.get(l - 1))
                .find_map(|t| last_key(t))
        });
        let value = after
            .split(['#'])
            .next()
            .map(|v| {
                let v = v.trim();
                if v.starts_with(['[', '{']) {
                    balanced(v).to_string()
                } else {
                    v.split([',', '}', ']'])
                        .next()
                        .unwrap_or(v)
                        .trim()
                        .to_string()
                }
            })
            .filter(|v| !v.is_empty());
        Self { key, value }
    }
}

/// The flow collection `v` opens, up to its matching bracket.
fn balanced(v: &str) -> &str {
    let mut depth = 0usize;
    for (i, ch) in v.char_indices() {
        match ch {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &v[..=i];
                }
            }
            _ => {}
        }
    }
    v
}

/// The last `key:` in `text` (a plain YAML key: letters, digits, `_`).
fn last_key(text: &str) -> Option<String> {
    let mut found = None;
    for (i, _) in text.match_indices(':') {
        let head = &text[..i];
        let start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(|j| j + 1)
            .unwrap_or(0);
        if start < i {
            found = Some(head[start..].to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::reword;

    #[test]
    fn library_internals_become_key_value_and_rule() {
        let y = "method: grid\nseed: -1\n";
        assert_eq!(
            reword("invalid u64", y, 2, 7),
            format!("seed: -1 must be a whole number from 0 to {}", u64::MAX)
        );
        let y = "method: grid\ntrain: {n_embd: [1]}\n";
        let m = reword(
            "data did not match any variant of untagged enum Scalar",
            y,
            2,
            17,
        );
        assert!(m.starts_with("n_embd: [1] is not a single value"), "{m}");
        let m = reword(
            "duplicate mapping key: method, set DuplicateKeyPolicy in Options if acceptable",
            "method: grid\nmethod: random\n",
            2,
            1,
        );
        assert!(m.starts_with("method: the key is given twice"), "{m}");
        assert!(!m.contains("DuplicateKeyPolicy"), "{m}");
        let m = reword("expected string scalar", "method: [grid]\n", 1, 9);
        assert_eq!(m, "method: [grid] must be text, not a list or map");
        let m = reword(
            "invalid i64",
            "method: grid\nrun_cap: 99999999999999999999\n",
            2,
            10,
        );
        assert!(
            m.starts_with("run_cap: 99999999999999999999 must be a whole number"),
            "{m}"
        );
    }
}
