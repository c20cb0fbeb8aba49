//! A county's master data and its ratings, for the shared-log tests and the cluster benchmark.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use hcp_core::auth::Source;
use hcp_core::model::{
    Channel, EvaluatorInput, Level, OrgKind, OrgUnit, RatingInput, ServiceItem, Staff,
};
use hcp_core::store::{Command, MasterChange};
use hcp_core::validate::credit_check_char;

pub const CITY: &str = "410400";
pub const COUNTY: &str = "410421";
pub const HALL: &str = "H410421";
pub const WINDOW: &str = "W410421-01";
pub const STAFF: &str = "S410421-0001";
pub const ITEM: &str = "T-000101";
pub const SOURCE: &str = "county-hall";

pub fn department() -> String {
    let first17 = "11410421MB0000001";
    format!("{first17}{}", credit_check_char(first17).unwrap())
}

fn unit(id: &str, kind: OrgKind, parent: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: format!("{kind:?} {id}"),
        parent: parent.map(String::from),
        department: None,
        has_device: false,
        has_qr_code: false,
    }
}

pub fn master_data() -> Vec<Command> {
    [
        MasterChange::OrgUnit(unit(CITY, OrgKind::City, None)),
        MasterChange::OrgUnit(unit(COUNTY, OrgKind::County, Some(CITY))),
        MasterChange::OrgUnit(unit(&department(), OrgKind::Department, Some(COUNTY))),
        MasterChange::OrgUnit(unit(HALL, OrgKind::Hall, Some(COUNTY))),
        MasterChange::OrgUnit(OrgUnit {
            department: Some(department()),
            has_qr_code: true,
            ..unit(WINDOW, OrgKind::Window, Some(HALL))
        }),
        MasterChange::Staff(Staff {
            id: STAFF.into(),
            name: "王芳".into(),
            department: department(),
            window: Some(WINDOW.into()),
        }),
        MasterChange::Item(ServiceItem {
            task_code: ITEM.into(),
            name: "食品经营许可".into(),
            department: department(),
            task_type: "行政许可".into(),
        }),
        MasterChange::Source(Source {
            id: SOURCE.into(),
            name: SOURCE.into(),
            adapter: "canonical".into(),
            scope: CITY.into(),
            key_hash: String::new(),
            disabled: false,
            kind: Default::default(),
            expected: false,
        }),
    ]
    .into_iter()
    .map(|change| Command::Master {
        actor: "admin".into(),
        change,
    })
    .collect()
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 2, 0, 0).unwrap()
}

pub fn rating(event: &str, project: u32) -> Command {
    let level = if project.is_multiple_of(7) {
        Level::Dissatisfied
    } else {
        Level::Satisfied
    };
    Command::Rating {
        source: SOURCE.into(),
        input: RatingInput {
            event_id: event.into(),
            project_no: format!("41042120261204{project:06}"),
            service_number: 1,
            assess_number: 1,
            task_code: ITEM.into(),
            department: department(),
            area_code: COUNTY.into(),
            service_name: Some("受理".into()),
            window: Some(WINDOW.into()),
            staff: Some(STAFF.into()),
            device: None,
            level,
            channel: Channel::QrCode,
            indicators: if level.is_bad() {
                vec!["510".into()]
            } else {
                Vec::new()
            },
            text: None,
            evaluator: EvaluatorInput::default(),
            rated_at: now() - chrono::Duration::minutes(5),
        },
    }
}
