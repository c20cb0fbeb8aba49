//! Guest SDK for Haochaping adapters: the bindings of the plugin contract
//! `haochaping:adapter@1.0.0` in a friendly layout (and of the 1.1.0 `uplink` world in
//! [`v1_1`]), the export macros, and the pure helpers that vendors need (China time, CRC-16,
//! code tables, content types).
//!
//! An inbound adapter (hall device, business system) looks like this:
//!
//! ```
//! use hcp_adapter_sdk::types::{AdapterKind, DecodeError, Inbound, Info, Sample};
//! use hcp_adapter_sdk::{malformed, media_type_is, unsupported_content_type};
//!
//! struct MyDevice;
//!
//! impl hcp_adapter_sdk::inbound::Guest for MyDevice {
//!     fn describe() -> Info {
//!         Info {
//!             id: "my-device".to_owned(),
//!             version: "1.0.0".to_owned(),
//!             vendor: "Example Ltd".to_owned(),
//!             kind: AdapterKind::HallDevice,
//!             models: vec!["MD-1".to_owned()],
//!             abi: hcp_adapter_sdk::ABI.to_owned(),
//!             description: "example device".to_owned(),
//!         }
//!     }
//!
//!     fn samples() -> Vec<Sample> {
//!         Vec::new()
//!     }
//!
//!     fn decode(content_type: String, payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
//!         if !media_type_is(&content_type, "application/json") {
//!             return Err(unsupported_content_type(&content_type, &["application/json"]));
//!         }
//!         Err(malformed(format!("{} bytes not understood", payload.len())))
//!     }
//! }
//!
//! hcp_adapter_sdk::export_inbound!(MyDevice);
//! # fn main() {}
//! ```
//!
//! Build it for `wasm32-unknown-unknown` (no imports at all) and wrap the core module with
//! `wasm-tools component new`; see `adapters/README.md`.
//!
//! Nothing here reads a clock, draws random numbers or does I/O: the platform refuses any
//! component that imports anything.

mod codes;
mod crc;
mod media;
mod time;

#[cfg(feature = "serde")]
pub mod json;

pub use crc::crc16_ccitt;
pub use media::{media_type_is, unsupported_content_type};
pub use time::{china_time_to_rfc3339, rfc3339_to_china_time, unix_to_rfc3339_china};

/// The contract version this SDK implements; put it in `Info::abi`.
pub const ABI: &str = "1.0.0";

/// Generated bindings. Both worlds (`inbound`, `uplink`) export the same `types` interface, and
/// wit-bindgen cannot share exported types between two `generate!` calls (each defines its own
/// copy and the same crate-level macro names), so the SDK generates one guest world exporting
/// all three interfaces: one set of types serves both worlds. Which world a component
/// implements is decided by the export macro the adapter calls, which embeds that world's
/// component type (encoded by `build.rs`). Not a public API: use the modules below.
#[doc(hidden)]
#[allow(unsafe_code, clippy::all)]
pub mod __bindings {
    wit_bindgen::generate!({
        inline: "
            package hcp:sdk;

            world guest {
                export haochaping:adapter/types@1.0.0;
                export haochaping:adapter/inbound-adapter@1.0.0;
                export haochaping:adapter/uplink-adapter@1.0.0;
            }
        ",
        path: "../../plugins/wit/adapter@1.0.0",
        world: "hcp:sdk/guest",
        pub_export_macro: true,
        default_bindings_module: "hcp_adapter_sdk::__bindings",
        additional_derives: [PartialEq],
    });
}

/// The records, enums and variants of the contract (`interface types`).
pub mod types {
    pub use crate::__bindings::exports::haochaping::adapter::types::{
        AdapterKind, ApplicantType, CaseStatus, Channel, DecodeError, Evaluator, Heartbeat,
        Inbound, Info, Level, Rating, Sample, ServiceEvent,
    };
}

/// The `inbound` world: decoding device and business-system payloads. Implement [`Guest`] and
/// call [`export_inbound!`](crate::export_inbound).
///
/// [`Guest`]: inbound::Guest
pub mod inbound {
    pub use crate::__bindings::exports::haochaping::adapter::inbound_adapter::Guest;
}

/// The `uplink` world: encoding ratings for the provincial platform and reading its answers.
/// Implement [`Guest`] and call [`export_uplink!`](crate::export_uplink).
///
/// [`Guest`]: uplink::Guest
pub mod uplink {
    pub use crate::__bindings::exports::haochaping::adapter::uplink_adapter::{
        Ack, Guest, UplinkBatch, UplinkRating, UplinkRequest,
    };
}

/// Bindings of contract 1.1.0, for the `uplink` world only: its interface grew (rectifications,
/// reconciliation), the `inbound` world did not, so inbound adapters stay on 1.0.0. A separate
/// `generate!` with its own types: wit-bindgen cannot share exported types between contract
/// versions either. Not a public API: use [`v1_1`].
#[doc(hidden)]
#[allow(unsafe_code, clippy::all)]
pub mod __bindings_1_1 {
    wit_bindgen::generate!({
        inline: "
            package hcp:sdk-uplink;

            world guest-uplink {
                export haochaping:adapter/types@1.1.0;
                export haochaping:adapter/uplink-adapter@1.1.0;
            }
        ",
        path: "../../plugins/wit/adapter@1.1.0",
        world: "hcp:sdk-uplink/guest-uplink",
        pub_export_macro: true,
        default_bindings_module: "hcp_adapter_sdk::__bindings_1_1",
        additional_derives: [PartialEq],
    });
}

/// Contract `haochaping:adapter@1.1.0` for uplink adapters: everything of the 1.0.0 `uplink`
/// world plus rectification records (`encode_records`) and the province's daily counts
/// (`count_query`, `parse_counts`). Implement [`v1_1::uplink::Guest`] and call
/// [`export_uplink_v1_1!`](crate::export_uplink_v1_1). The code tables of [`crate::types`]
/// (`Level::satisfaction`, `Channel::national_pf` …) exist for these types too.
pub mod v1_1 {
    /// The contract version; put it in `Info::abi`.
    pub const ABI: &str = "1.1.0";

    /// The records, enums and variants of the contract (`interface types`).
    pub mod types {
        pub use crate::__bindings_1_1::exports::haochaping::adapter::types::{
            AdapterKind, ApplicantType, CaseStatus, Channel, DecodeError, Evaluator, Heartbeat,
            Inbound, Info, Level, Rating, Sample, ServiceEvent,
        };
    }

    /// The `uplink` world of 1.1.0.
    pub mod uplink {
        pub use crate::__bindings_1_1::exports::haochaping::adapter::uplink_adapter::{
            Ack, CallbackResult, DayCount, DispositionKind, Guest, RecordBatch, RecordKind,
            Rectification, RectificationLevel, RectificationOutcome, UplinkBatch, UplinkRating,
            UplinkRecord, UplinkRectification, UplinkRequest,
        };
    }

    /// Builds a [`types::Sample`] from a content type and bytes.
    pub fn sample(content_type: &str, payload: &[u8]) -> types::Sample {
        types::Sample {
            content_type: content_type.to_owned(),
            payload: payload.to_vec(),
        }
    }

    /// A [`types::DecodeError::Malformed`] with the given message.
    pub fn malformed(message: impl Into<String>) -> types::DecodeError {
        types::DecodeError::Malformed(message.into())
    }
}

/// Builds a [`types::Sample`] from a content type and bytes (typically `include_bytes!`).
pub fn sample(content_type: &str, payload: &[u8]) -> types::Sample {
    types::Sample {
        content_type: content_type.to_owned(),
        payload: payload.to_vec(),
    }
}

/// A [`types::DecodeError::Malformed`] with the given message.
pub fn malformed(message: impl Into<String>) -> types::DecodeError {
    types::DecodeError::Malformed(message.into())
}

#[doc(hidden)]
pub const __UPLINK_1_1_COMPONENT_TYPE_LEN: usize =
    include_bytes!(concat!(env!("OUT_DIR"), "/uplink-1.1.component-type")).len();
#[doc(hidden)]
pub const __UPLINK_1_1_COMPONENT_TYPE: [u8; __UPLINK_1_1_COMPONENT_TYPE_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/uplink-1.1.component-type"));
#[doc(hidden)]
pub const __INBOUND_COMPONENT_TYPE_LEN: usize =
    include_bytes!(concat!(env!("OUT_DIR"), "/inbound.component-type")).len();
#[doc(hidden)]
pub const __INBOUND_COMPONENT_TYPE: [u8; __INBOUND_COMPONENT_TYPE_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/inbound.component-type"));
#[doc(hidden)]
pub const __UPLINK_COMPONENT_TYPE_LEN: usize =
    include_bytes!(concat!(env!("OUT_DIR"), "/uplink.component-type")).len();
#[doc(hidden)]
pub const __UPLINK_COMPONENT_TYPE: [u8; __UPLINK_COMPONENT_TYPE_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/uplink.component-type"));

/// Exports a type implementing [`inbound::Guest`] as the component's `inbound` world. Call it
/// once, at the top level of the adapter crate, with the type's name (an identifier).
#[macro_export]
macro_rules! export_inbound {
    ($ty:ident) => {
        // Only wasm32 gets the exports: their names (`haochaping:adapter/…#decode`) are not
        // valid symbols for a native cdylib, and natively the crate is only unit-tested.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__export_haochaping_adapter_types_1_0_0_cabi!(
                $ty with_types_in $crate::__bindings::exports::haochaping::adapter::types
            );
            $crate::__export_haochaping_adapter_inbound_adapter_1_0_0_cabi!(
                $ty with_types_in $crate::__bindings::exports::haochaping::adapter::inbound_adapter
            );
            // The world this component implements, read by `wasm-tools component new`.
            #[unsafe(link_section = "component-type:hcp-adapter-sdk:haochaping:adapter@1.0.0:inbound")]
            #[doc(hidden)]
            pub static __HCP_COMPONENT_TYPE: [u8; $crate::__INBOUND_COMPONENT_TYPE_LEN] =
                $crate::__INBOUND_COMPONENT_TYPE;
        };
        // Natively, still check that the type implements the world (and keep it "used").
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::types::Info = <$ty as $crate::inbound::Guest>::describe;
    };
}

/// Exports a type implementing [`uplink::Guest`] as the component's `uplink` world. Call it
/// once, at the top level of the adapter crate, with the type's name (an identifier).
#[macro_export]
macro_rules! export_uplink {
    ($ty:ident) => {
        // Only wasm32 gets the exports: their names (`haochaping:adapter/…#decode`) are not
        // valid symbols for a native cdylib, and natively the crate is only unit-tested.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__export_haochaping_adapter_types_1_0_0_cabi!(
                $ty with_types_in $crate::__bindings::exports::haochaping::adapter::types
            );
            $crate::__export_haochaping_adapter_uplink_adapter_1_0_0_cabi!(
                $ty with_types_in $crate::__bindings::exports::haochaping::adapter::uplink_adapter
            );
            // The world this component implements, read by `wasm-tools component new`.
            #[unsafe(link_section = "component-type:hcp-adapter-sdk:haochaping:adapter@1.0.0:uplink")]
            #[doc(hidden)]
            pub static __HCP_COMPONENT_TYPE: [u8; $crate::__UPLINK_COMPONENT_TYPE_LEN] =
                $crate::__UPLINK_COMPONENT_TYPE;
        };
        // Natively, still check that the type implements the world (and keep it "used").
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::types::Info = <$ty as $crate::uplink::Guest>::describe;
    };
}

/// Exports a type implementing [`v1_1::uplink::Guest`] as the component's `uplink` world of
/// contract 1.1.0. Call it once, at the top level of the adapter crate, with the type's name.
#[macro_export]
macro_rules! export_uplink_v1_1 {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__export_haochaping_adapter_types_1_1_0_cabi!(
                $ty with_types_in $crate::__bindings_1_1::exports::haochaping::adapter::types
            );
            $crate::__export_haochaping_adapter_uplink_adapter_1_1_0_cabi!(
                $ty with_types_in $crate::__bindings_1_1::exports::haochaping::adapter::uplink_adapter
            );
            // The world this component implements, read by `wasm-tools component new`.
            #[unsafe(link_section = "component-type:hcp-adapter-sdk:haochaping:adapter@1.1.0:uplink")]
            #[doc(hidden)]
            pub static __HCP_COMPONENT_TYPE: [u8; $crate::__UPLINK_1_1_COMPONENT_TYPE_LEN] =
                $crate::__UPLINK_1_1_COMPONENT_TYPE;
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::v1_1::types::Info =
            <$ty as $crate::v1_1::uplink::Guest>::describe;
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn abi_is_the_version_of_the_contract_the_bindings_come_from() {
        let wit = include_str!("../../../plugins/wit/adapter@1.0.0/adapter.wit");
        let package_line = format!("package haochaping:adapter@{};", super::ABI);
        assert!(wit.lines().any(|line| line == package_line));
    }

    #[test]
    fn v1_1_abi_is_the_version_of_its_contract_folder() {
        let wit = include_str!("../../../plugins/wit/adapter@1.1.0/adapter.wit");
        let package_line = format!("package haochaping:adapter@{};", super::v1_1::ABI);
        assert!(wit.lines().any(|line| line == package_line));
        assert_eq!(&super::__UPLINK_1_1_COMPONENT_TYPE[..4], b"\0asm");
        assert_ne!(
            &super::__UPLINK_1_1_COMPONENT_TYPE[..],
            &super::__UPLINK_COMPONENT_TYPE[..]
        );
    }

    #[test]
    fn both_worlds_have_an_encoded_component_type() {
        // A component-type section is a wasm binary: magic, then the component-model layer.
        for section in [
            &super::__INBOUND_COMPONENT_TYPE[..],
            &super::__UPLINK_COMPONENT_TYPE[..],
        ] {
            assert_eq!(&section[..4], b"\0asm");
        }
        assert_ne!(
            &super::__INBOUND_COMPONENT_TYPE[..],
            &super::__UPLINK_COMPONENT_TYPE[..]
        );
    }
}
