//! A sweep file's text under another name, for `gptsweep local` run again on a file whose
//! sweep is already in the local state: the coordinator takes the name from the text it
//! is sent, so the text itself is renamed (its top-level `name:` line replaced, or one
//! added), and checked again to say that name.

use gptsweep_coordinator::sweep::parse_sweep;

/// `yaml` with its sweep named `name`; an error when the text cannot be renamed line by
/// line (a flow-style document): then the user renames it.
pub fn renamed(file_name: &str, yaml: &str, name: &str) -> anyhow::Result<String> {
    let quoted = serde_json::to_string(name).expect("strings serialise");
    let line = format!("name: {quoted}");
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out: Vec<&str> = lines.clone();
    match lines.iter().position(|l| l.starts_with("name:")) {
        Some(i) => out[i] = &line,
        None => {
            // After the leading comments, directives and document marker.
            let at = lines
                .iter()
                .position(|l| {
                    let t = l.trim();
                    !(t.is_empty() || t.starts_with('#') || t.starts_with('%') || t == "---")
                })
                .unwrap_or(lines.len());
            out.insert(at, &line);
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    match parse_sweep(file_name, &text) {
        Ok(spec) if spec.name == name => Ok(text),
        _ => anyhow::bail!(
            "{file_name}: could not name its sweep {name:?} (give it a name of its own with \
             `name:`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# a comment\nname: quickstart   # its name\ndataset: tinyshakespeare\n\
                        method: grid\nmetric: {name: val_loss, goal: minimize}\n\
                        parameters:\n  lr: {values: [0.001]}\n";

    #[test]
    fn the_name_line_is_replaced_and_the_rest_kept() {
        let text = renamed("q.yaml", FILE, "quickstart-2").unwrap();
        assert_eq!(
            text,
            FILE.replace("quickstart   # its name", "\"quickstart-2\"")
        );
    }

    #[test]
    fn a_file_named_by_its_stem_gets_a_name_line() {
        let unnamed = FILE.replace("name: quickstart   # its name\n", "");
        let text = renamed("q.yaml", &unnamed, "q-2").unwrap();
        assert_eq!(
            text,
            unnamed.replace("# a comment\n", "# a comment\nname: \"q-2\"\n")
        );
    }

    #[test]
    fn a_flow_style_file_is_refused_with_a_line_saying_so() {
        let flow = "{name: a, dataset: tinyshakespeare, method: grid, \
                    parameters: {lr: {values: [0.001]}}}\n";
        let err = renamed("f.yaml", flow, "a-2").unwrap_err().to_string();
        assert_eq!(
            err,
            "f.yaml: could not name its sweep \"a-2\" (give it a name of its own with `name:`)"
        );
    }
}
