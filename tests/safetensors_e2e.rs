//! `gptsweep export --checkpoint DIR --format safetensors` on the real binary: the file
//! parses (header, shapes, offsets contiguous), holds every parameter of the model under
//! the PyTorch names of each `--layout` with its architecture and vocabulary in the
//! metadata, and both layouts hold the same values. Where a Python with PyTorch is set up
//! (`GPTSWEEP_PYTHON`; CI's venv has no torch), `tests/py/torch_logits.py` loads the file
//! into the lecture's gpt.py and into bench/torch_gpt.py, strictly, and their logits on a
//! fixed input match gptsweep's own (max abs diff < 1e-5, under the 1e-4 asked). Bad
//! input is refused in one line with exit code 2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use burn::tensor::{Int, Tensor, TensorData};
use gptsweep_gpt::Checkpoint;
use gptsweep_gpt::backend::CpuInfer;
use gptsweep_gpt::export::SafeTensors;
use serde_json::Value;

use common::{bin, python, shakespeare};

const TINY: [&str; 18] = [
    "--max-iters",
    "6",
    "--n-embd",
    "12",
    "--n-head",
    "3",
    "--n-layer",
    "2",
    "--block-size",
    "16",
    "--batch-size",
    "4",
    "--eval-interval",
    "6",
    "--eval-iters",
    "1",
    "--sample-length",
    "0",
];

/// The input both sides run.
const INPUT: &str = "ROMEO: O, she";

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn export(ck: &Path, out: &Path, layout: &str) -> Value {
    ok(&run(&[
        "export",
        "--output",
        "json",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--format",
        "safetensors",
        "--layout",
        layout,
        "--out",
        out.to_str().unwrap(),
    ]))
}

fn tensor<'a>(file: &'a SafeTensors, name: &str) -> &'a [f32] {
    &file
        .tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .data
}

/// gptsweep's logits for `INPUT`, from the checkpoint: `[time][vocab]`.
fn gptsweep_logits(ck: &Path) -> Vec<Vec<f32>> {
    let checkpoint = Checkpoint::load(ck).unwrap();
    let device = Default::default();
    let model = checkpoint.load_model::<CpuInfer>(&device).unwrap();
    let ids: Vec<i32> = checkpoint
        .meta
        .tokenizer
        .encode(INPUT, "input")
        .unwrap()
        .into_iter()
        .map(i32::from)
        .collect();
    let t = ids.len();
    let logits = model.forward(Tensor::<CpuInfer, 2, Int>::from_data(
        TensorData::new(ids, [1, t]),
        &device,
    ));
    let v = logits.dims()[2];
    let flat = logits.into_data().to_vec::<f32>().unwrap();
    flat.chunks(v).map(<[f32]>::to_vec).collect()
}

#[test]
fn a_checkpoint_exports_to_safetensors_that_pytorch_runs_alike() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.txt");
    std::fs::write(&data, shakespeare(5000)).unwrap();
    let ck = dir.path().join("ck");
    ok(&run(&[
        &[
            "train",
            "--output",
            "json",
            "--dataset",
            data.to_str().unwrap(),
            "--out",
            ck.to_str().unwrap(),
        ][..],
        &TINY[..],
    ]
    .concat()));
    let checkpoint = Checkpoint::load(&ck).unwrap();
    let cfg = &checkpoint.meta.model;

    let (lecture, fused) = (
        dir.path().join("lecture.safetensors"),
        dir.path().join("fused.safetensors"),
    );
    let report = export(&ck, &lecture, "lecture");
    assert_eq!(
        (
            report["step"].as_u64(),
            &report["format"],
            &report["layout"]
        ),
        (
            Some(6),
            &Value::from("safetensors"),
            &Value::from("lecture")
        ),
        "{report}"
    );
    export(&ck, &fused, "fused");

    let read = |p: &Path| SafeTensors::from_bytes(&std::fs::read(p).unwrap()).unwrap();
    let (l, f) = (read(&lecture), read(&fused));
    for (file, layout) in [(&l, "lecture"), (&f, "fused")] {
        let m = &file.metadata;
        assert_eq!(m["layout"], layout);
        assert_eq!(m["tokenizer"], "char");
        assert_eq!(m["step"], "6");
        for (key, want) in [
            ("vocab_size", cfg.vocab_size),
            ("block_size", 16),
            ("n_embd", 12),
            ("n_head", 3),
            ("n_layer", 2),
        ] {
            assert_eq!(m[key], want.to_string(), "{key}");
        }
        assert_eq!(m["vocabulary"].chars().count(), cfg.vocab_size);
        let hp: Value = serde_json::from_str(&m["hyperparams"]).unwrap();
        assert_eq!(hp["n_embd"], 12);
        let params: usize = file
            .tensors
            .iter()
            .filter(|t| !t.name.ends_with(".tril"))
            .map(|t| t.data.len())
            .sum();
        assert_eq!(params, cfg.num_params(), "{layout}");
    }
    // The same weights under both names: embeddings as they are, each lecture head the
    // rows of the fused qkv projection (PyTorch's [out, in]).
    assert_eq!(
        tensor(&l, "token_embedding_table.weight"),
        tensor(&f, "tok.weight")
    );
    assert_eq!(tensor(&l, "lm_head.weight"), tensor(&f, "head.weight"));
    assert_eq!(
        tensor(&l, "blocks.1.ffwd.net.2.bias"),
        tensor(&f, "blocks.1.ffwd.2.bias")
    );
    let qkv = tensor(&f, "blocks.0.attn.qkv.weight");
    let key1 = tensor(&l, "blocks.0.sa.heads.1.key.weight");
    assert_eq!(key1, &qkv[(12 + 4) * 12..(12 + 8) * 12]);

    // PyTorch's models on the file: gptsweep's logits.
    let ours = gptsweep_logits(&ck);
    let Some(python) = python::python() else {
        return;
    };
    for file in [&lecture, &fused] {
        let out = Command::new(&python)
            .arg(python::script("torch_logits.py"))
            .arg(file)
            .arg(INPUT)
            .output()
            .unwrap();
        if out.status.code() == Some(3) {
            eprintln!(
                "SKIPPED the PyTorch comparison: torch is not installed in GPTSWEEP_PYTHON (pip install torch)"
            );
            return;
        }
        let theirs = ok(&out);
        let theirs: Vec<Vec<f32>> = serde_json::from_value(theirs["logits"].clone()).unwrap();
        assert_eq!((theirs.len(), theirs[0].len()), (ours.len(), ours[0].len()));
        let diff = ours
            .iter()
            .flatten()
            .zip(theirs.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // The bar is 1e-4; the check is tighter, as a model this small and young attends
        // almost uniformly: swapping each head's query and key moves its logits by only
        // 1.5e-4 (measured), where a right export differs by float rounding (4e-8).
        assert!(diff < 1e-5, "{}: max abs diff {diff}", file.display());
        eprintln!(
            "{}: PyTorch's logits within {diff:e} of gptsweep's",
            file.display()
        );
    }
}

#[test]
fn bad_exports_are_refused_in_one_line_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    std::fs::write(&out, b"x").unwrap();
    let refused = |args: &[&str], words: &[&str]| {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: {err}");
        }
    };
    let o = out.to_str().unwrap();
    let missing = dir.path().join("none");
    refused(
        &[
            "export",
            "--checkpoint",
            missing.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            o,
        ],
        &["exists; name a new file"],
    );
    let fresh = dir.path().join("new.safetensors");
    let f = fresh.to_str().unwrap();
    refused(
        &[
            "export",
            "--checkpoint",
            missing.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            f,
        ],
        &["no such checkpoint directory"],
    );
    refused(
        &[
            "export",
            "--checkpoint",
            missing.to_str().unwrap(),
            "--layout",
            "fused",
            "--out",
            f,
        ],
        &["--layout applies to --format safetensors only"],
    );
    // A checkpoint directory that is not one.
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("meta.json"), "{").unwrap();
    refused(
        &[
            "export",
            "--checkpoint",
            junk.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            f,
        ],
        &["meta.json"],
    );
    assert!(!fresh.exists());
}
