//! LLB definitions, built from BuildKit's op types: each op is marshaled, named by the sha256 of
//! its bytes, and referred to by that digest from the ops that read it; a definition is the ops
//! in dependency order followed by the terminal op naming the result.
//!
//! Only what werf-rs sends is here: image sources (`docker-image://`) and files made from bytes
//! (`mkfile` over scratch).

use std::collections::HashMap;

use prost::Message;
use sha2::{Digest as _, Sha256};

use crate::proto::pb;

/// One op's output, as later ops refer to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    digest: String,
    index: i64,
}

/// The ops of one definition, in the order they were added (inputs before readers).
#[derive(Debug, Default)]
pub struct Builder {
    ops: Vec<(String, Vec<u8>)>,
}

/// Scratch (no input) for a file action.
const SCRATCH: i64 = -1;

fn linux_amd64() -> pb::Platform {
    pb::Platform {
        architecture: "amd64".into(),
        os: "linux".into(),
        ..Default::default()
    }
}

/// `os/arch[/variant]` as an LLB platform.
pub fn platform(text: &str) -> pb::Platform {
    let mut parts = text.split('/');
    let os = parts.next().unwrap_or("linux").to_string();
    let architecture = parts.next().unwrap_or("amd64").to_string();
    let variant = parts.next().unwrap_or_default().to_string();
    pb::Platform {
        os,
        architecture,
        variant,
        ..Default::default()
    }
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&mut self, op: pb::Op) -> Output {
        let bytes = op.encode_to_vec();
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        if !self.ops.iter().any(|(d, _)| *d == digest) {
            self.ops.push((digest.clone(), bytes));
        }
        Output { digest, index: 0 }
    }

    /// An image from a registry (`repo:tag` or `repo@sha256:...`), for `platform`.
    pub fn image(&mut self, reference: &str, platform: Option<&str>) -> Output {
        self.add(pb::Op {
            inputs: Vec::new(),
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: format!("docker-image://{reference}"),
                attrs: HashMap::new(),
            })),
            platform: Some(platform.map(self::platform).unwrap_or_else(linux_amd64)),
            constraints: None,
        })
    }

    /// A file system holding only `path` (mode `mode`, owned by root, time 0) with `data`.
    pub fn file(&mut self, path: &str, mode: i32, data: Vec<u8>) -> Output {
        self.add(pb::Op {
            inputs: Vec::new(),
            op: Some(pb::op::Op::File(pb::FileOp {
                actions: vec![pb::FileAction {
                    input: SCRATCH,
                    secondary_input: SCRATCH,
                    output: 0,
                    action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                        path: path.to_string(),
                        mode,
                        data,
                        owner: None,
                        timestamp: 0,
                    })),
                }],
            })),
            platform: Some(linux_amd64()),
            constraints: None,
        })
    }

    /// The definition whose result is `output`.
    pub fn definition(mut self, output: &Output) -> pb::Definition {
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: output.digest.clone(),
                index: output.index,
            }],
            ..Default::default()
        };
        self.add(terminal);
        let metadata = self
            .ops
            .iter()
            .map(|(d, _)| (d.clone(), pb::OpMetadata::default()))
            .collect();
        pb::Definition {
            def: self.ops.into_iter().map(|(_, b)| b).collect(),
            metadata,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(def: &pb::Definition) -> Vec<pb::Op> {
        def.def
            .iter()
            .map(|b| pb::Op::decode(&b[..]).unwrap())
            .collect()
    }

    #[test]
    fn ops_are_named_by_their_bytes_and_the_terminal_names_the_result() {
        let mut b = Builder::new();
        let img = b.image("127.0.0.1:5000/ctx@sha256:ab", None);
        let again = b.image("127.0.0.1:5000/ctx@sha256:ab", None);
        assert_eq!(img, again, "the same op is one op");
        let def = b.definition(&img);
        assert_eq!(def.def.len(), 2);
        let ops = decode(&def);
        let digest = format!("sha256:{:x}", Sha256::digest(&def.def[0]));
        assert_eq!(img.digest, digest);
        assert_eq!(ops[1].inputs.len(), 1);
        assert_eq!(ops[1].inputs[0].digest, digest);
        assert!(ops[1].op.is_none(), "the last op is the terminal");
        assert_eq!(def.metadata.len(), 2);
        match &ops[0].op {
            Some(pb::op::Op::Source(s)) => {
                assert_eq!(s.identifier, "docker-image://127.0.0.1:5000/ctx@sha256:ab")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_is_made_over_scratch() {
        let mut b = Builder::new();
        let f = b.file("/Dockerfile", 0o644, b"FROM x\n".to_vec());
        let ops = decode(&b.definition(&f));
        let Some(pb::op::Op::File(file)) = &ops[0].op else {
            panic!("{:?}", ops[0])
        };
        assert_eq!(file.actions[0].input, -1);
        let Some(pb::file_action::Action::Mkfile(mk)) = &file.actions[0].action else {
            panic!()
        };
        assert_eq!(
            (mk.path.as_str(), mk.mode, &mk.data[..]),
            ("/Dockerfile", 0o644, &b"FROM x\n"[..])
        );
        assert_eq!(platform("linux/arm64/v8").variant, "v8");
    }
}
