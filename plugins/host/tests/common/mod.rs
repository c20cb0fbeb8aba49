//! What the plugin host's tests share: the real components built by `make adapters`, one host
//! per test binary (compiling a component takes tens of milliseconds; loading is what most tests
//! exercise, so each test still loads its own plugin), and a HX-PJ200 frame encoder.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hcp_plugins::{HostOptions, Plugin, PluginHost};

/// Where `make adapters` writes the components.
pub fn adapters_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/adapters")
}

/// The bytes of `target/adapters/<name>.wasm`. `make test` builds the adapters before the
/// tests; run `make adapters` first when calling `cargo test` directly.
pub fn component(name: &str) -> Vec<u8> {
    let path = adapters_dir().join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => panic!(
            "cannot read {}: {error}; build the adapters with `make adapters` (part of `make test`) \
             from the repository root first",
            path.display()
        ),
    }
}

/// A host with the default limits, shared by the tests of one binary.
pub fn host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| match PluginHost::new(HostOptions::default()) {
        Ok(host) => host,
        Err(error) => panic!("plugin host does not start: {error}"),
    })
}

/// Loads a reference adapter that must load.
pub fn load(host: &PluginHost, name: &str) -> Arc<Plugin> {
    match host.load(&component(name), None) {
        Ok(plugin) => plugin,
        Err(error) => panic!("{name} refused: {error}"),
    }
}

pub const HX_PJ200: &str = "application/vnd.hx-pj200";

/// One HX-PJ200 frame (adapters/hx-pj200/README.md), CRC included.
pub enum Frame<'a> {
    Rating {
        sequence: u32,
        device: &'a str,
        unix_time: u32,
        level: u8,
        indicators: &'a [&'a str],
        comment: &'a str,
        project_no: &'a str,
        task_code: &'a str,
        service_number: u8,
        staff: &'a str,
        real_name: bool,
        phone: &'a str,
    },
    Heartbeat {
        sequence: u32,
        device: &'a str,
        unix_time: u32,
        ratings_total: u32,
        firmware: &'a str,
    },
}

impl Frame<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut frame = vec![0xA5, 0x5A, 1];
        let short = |frame: &mut Vec<u8>, text: &str| {
            frame.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
            frame.extend_from_slice(text.as_bytes());
        };
        match self {
            Frame::Rating {
                sequence,
                device,
                unix_time,
                level,
                indicators,
                comment,
                project_no,
                task_code,
                service_number,
                staff,
                real_name,
                phone,
            } => {
                frame.push(1);
                frame.extend_from_slice(&sequence.to_be_bytes());
                short(&mut frame, device);
                frame.extend_from_slice(&unix_time.to_be_bytes());
                frame.push(*level);
                frame.push(u8::try_from(indicators.len()).unwrap_or(u8::MAX));
                for indicator in *indicators {
                    short(&mut frame, indicator);
                }
                frame.extend_from_slice(
                    &u16::try_from(comment.len())
                        .unwrap_or(u16::MAX)
                        .to_be_bytes(),
                );
                frame.extend_from_slice(comment.as_bytes());
                short(&mut frame, project_no);
                short(&mut frame, task_code);
                frame.push(*service_number);
                short(&mut frame, staff);
                frame.push(u8::from(*real_name));
                short(&mut frame, phone);
            }
            Frame::Heartbeat {
                sequence,
                device,
                unix_time,
                ratings_total,
                firmware,
            } => {
                frame.push(2);
                frame.extend_from_slice(&sequence.to_be_bytes());
                short(&mut frame, device);
                frame.extend_from_slice(&unix_time.to_be_bytes());
                frame.extend_from_slice(&ratings_total.to_be_bytes());
                short(&mut frame, firmware);
            }
        }
        let crc = crc16_ccitt_false(&frame[2..]);
        frame.extend_from_slice(&crc.to_be_bytes());
        frame
    }
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final xor.
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A plain 非常满意 rating frame from device HX-410421-0007.
pub fn rating_frame(sequence: u32) -> Vec<u8> {
    Frame::Rating {
        sequence,
        device: "HX-410421-0007",
        unix_time: 1_773_109_500,
        level: 1,
        indicators: &[],
        comment: "",
        project_no: "41042120260310000140",
        task_code: "11410421005343519X4000117005000",
        service_number: 1,
        staff: "",
        real_name: false,
        phone: "",
    }
    .encode()
}
