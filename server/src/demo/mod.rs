//! The demo city of `hcp demo`: deterministic master data of 平顶山市 (regions, halls,
//! departments, windows, staff, devices, service items), one demo login per role, and a simulator
//! of the traffic its business systems and rating devices send (service acts and their ratings).
//! Pure data: no I/O and no clock; the caller says what time it is.

pub mod desk;
pub mod faults;
pub mod history;
pub mod province_sim;
pub mod serve;
pub mod sms;
pub mod uplink;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday,
};
use hcp_core::auth::{Role, User};
use hcp_core::model::{
    ApplicantType, CaseStatus, Channel, Device, DeviceModel, EvaluatorInput, Level, OrgKind,
    OrgUnit, RatingInput, ServiceEventInput, ServiceItem, Staff,
};
use hcp_core::store::{Command, MasterChange};
use hcp_core::validate::credit_check_char;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The source id of the simulated devices and business systems (scope: the whole city).
pub const DEMO_SOURCE: &str = "demo-devices";
/// 平顶山市, the root of the demo org tree.
pub const CITY_CODE: &str = "410400";
const CITY_NAME: &str = "平顶山市";
/// China Standard Time is UTC+8 all year (no daylight saving).
const CHINA_OFFSET_HOURS: i64 = 8;
/// Seed of the master data: fixed, so that ids and names are the same on every run.
const MASTER_SEED: u64 = 0x0041_0400_2023_0007;

/// The demo city: master data in insertion order plus the windows that traffic flows through.
#[derive(Debug, Clone)]
pub struct DemoCity {
    /// Parents before children; departments before the windows, staff and items naming them.
    pub master: Vec<MasterChange>,
    pub windows: Vec<DemoWindow>,
    pub items: Vec<ServiceItem>,
    /// The county-level division codes under the city.
    pub regions: Vec<String>,
}

/// A window as the simulator sees it: where it is, who staffs it and what it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoWindow {
    pub window: String,
    pub hall: String,
    /// The region of the hall or service point (6, 9 or 12 digits).
    pub area_code: String,
    pub department: String,
    pub staff: Vec<String>,
    pub device: Option<String>,
    /// Task codes served at the window.
    pub items: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Master data

/// County-level divisions of 平顶山市 with a traffic scale (rough population weight).
const COUNTIES: [(&str, &str, f64); 10] = [
    ("410402", "新华区", 1.0),
    ("410403", "卫东区", 0.9),
    ("410404", "石龙区", 0.35),
    ("410411", "湛河区", 0.9),
    ("410421", "宝丰县", 1.0),
    ("410422", "叶县", 1.1),
    ("410423", "鲁山县", 1.0),
    ("410425", "郏县", 0.9),
    ("410481", "舞钢市", 0.7),
    ("410482", "汝州市", 1.4),
];

/// A business system the demo city expects to report (应接尽接).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSystem {
    pub id: String,
    pub name: String,
    /// The region it reports for.
    pub scope: String,
    /// Stops reporting this many working days before the end of the history (a system down).
    pub silent_for: Option<u32>,
    /// Registered, never connected: its region's services reach the platform another way.
    pub never: bool,
}

/// The 一体化政务服务平台 of the city and of each county, which report every service act of
/// their region; 郏县's stopped reporting a week ago (its acts come through the city's), and
/// 叶县's 不动产登记 system is registered but not connected yet.
pub fn systems() -> Vec<DemoSystem> {
    let mut systems = vec![DemoSystem {
        id: format!("yth-{CITY_CODE}"),
        name: format!("{CITY_NAME}一体化政务服务平台"),
        scope: CITY_CODE.to_string(),
        silent_for: None,
        never: false,
    }];
    for (code, name, _) in COUNTIES {
        systems.push(DemoSystem {
            id: format!("yth-{code}"),
            name: format!("{name}一体化政务服务平台"),
            scope: code.to_string(),
            silent_for: (code == "410425").then_some(6),
            never: false,
        });
    }
    systems.push(DemoSystem {
        id: "bdc-410422".into(),
        name: "叶县不动产登记系统".into(),
        scope: "410422".into(),
        silent_for: None,
        never: true,
    });
    systems
}

/// (county, township code, township name, village code and name)
type TownshipSpec = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// Townships with a 便民服务中心, and the village (with a 便民服务站) under some of them.
const TOWNSHIPS: [TownshipSpec; 5] = [
    ("410421", "410421100", "城关镇", None),
    (
        "410421",
        "410421101",
        "周庄镇",
        Some(("410421101201", "马街村")),
    ),
    ("410421", "410421102", "闹店镇", None),
    (
        "410425",
        "410425101",
        "冢头镇",
        Some(("410425101203", "西寨村")),
    ),
    ("410425", "410425102", "安良镇", None),
];

/// Departments the demo knows; names differ by level, items are the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dept {
    Market,
    Police,
    Labour,
    Property,
    Fund,
    Tax,
    Medical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskKind {
    Licence,
    Confirmation,
    PublicService,
}

impl TaskKind {
    fn label(self) -> &'static str {
        match self {
            TaskKind::Licence => "行政许可",
            TaskKind::Confirmation => "行政确认",
            TaskKind::PublicService => "公共服务",
        }
    }

    /// The 事项类型 part of the 实施编码.
    fn code(self) -> &'static str {
        match self {
            TaskKind::Licence => "01",
            TaskKind::Confirmation => "07",
            TaskKind::PublicService => "20",
        }
    }
}

/// (name, kind, 基本编码 serial)
type ItemSpec = (&'static str, TaskKind, u32);

const MARKET_ITEMS: [ItemSpec; 4] = [
    ("企业设立登记", TaskKind::Licence, 10001),
    ("个体工商户注册登记", TaskKind::Licence, 10002),
    ("企业变更登记", TaskKind::Licence, 10003),
    ("食品经营许可", TaskKind::Licence, 10004),
];
/// The first three are 户政, the last two 出入境 (separate windows in the city hall).
const POLICE_ITEMS: [ItemSpec; 5] = [
    ("居民身份证换领", TaskKind::PublicService, 20001),
    ("户口迁移登记", TaskKind::Licence, 20002),
    ("居住证申领", TaskKind::PublicService, 20003),
    ("出入境证件办理", TaskKind::Licence, 20004),
    ("往来港澳通行证签注", TaskKind::Licence, 20005),
];
const LABOUR_ITEMS: [ItemSpec; 4] = [
    ("社会保障卡申领", TaskKind::PublicService, 30001),
    ("失业保险金申领", TaskKind::PublicService, 30002),
    ("职工基本养老保险参保登记", TaskKind::PublicService, 30003),
    ("就业创业证申领", TaskKind::PublicService, 30004),
];
const PROPERTY_ITEMS: [ItemSpec; 4] = [
    ("不动产转移登记", TaskKind::Confirmation, 40001),
    ("不动产抵押登记", TaskKind::Confirmation, 40002),
    ("不动产首次登记", TaskKind::Confirmation, 40003),
    ("不动产登记资料查询", TaskKind::PublicService, 40004),
];
const FUND_ITEMS: [ItemSpec; 3] = [
    ("住房公积金提取", TaskKind::PublicService, 50001),
    ("住房公积金个人贷款", TaskKind::PublicService, 50002),
    ("住房公积金缴存登记", TaskKind::PublicService, 50003),
];
const TAX_ITEMS: [ItemSpec; 4] = [
    ("发票申领", TaskKind::PublicService, 60001),
    ("契税申报", TaskKind::PublicService, 60002),
    ("增值税专用发票最高开票限额审批", TaskKind::Licence, 60003),
    ("税务登记信息确认", TaskKind::Confirmation, 60004),
];
const MEDICAL_ITEMS: [ItemSpec; 4] = [
    ("医保关系转移", TaskKind::PublicService, 70001),
    ("异地就医备案", TaskKind::PublicService, 70002),
    ("基本医疗保险参保登记", TaskKind::PublicService, 70003),
    ("门诊慢特病待遇认定", TaskKind::Confirmation, 70004),
];

impl Dept {
    const ALL: [Dept; 7] = [
        Dept::Market,
        Dept::Police,
        Dept::Labour,
        Dept::Property,
        Dept::Fund,
        Dept::Tax,
        Dept::Medical,
    ];

    /// The part of the department name that identifies it at any level.
    fn marker(self) -> &'static str {
        match self {
            Dept::Market => "市场监督管理局",
            Dept::Police => "公安局",
            Dept::Labour => "人力资源和社会保障局",
            Dept::Property => "不动产登记中心",
            Dept::Fund => "住房公积金管理中心",
            Dept::Tax => "税务局",
            Dept::Medical => "医疗保障局",
        }
    }

    fn name(self, region: &str) -> String {
        match self {
            Dept::Tax => format!("国家税务总局{region}税务局"),
            _ => format!("{region}{}", self.marker()),
        }
    }

    fn from_name(name: &str) -> Option<Dept> {
        Dept::ALL
            .into_iter()
            .find(|dept| name.contains(dept.marker()))
    }

    /// 机构类别 of the 统一社会信用代码: 11 机关, 12 事业单位.
    fn category(self) -> &'static str {
        match self {
            Dept::Property | Dept::Fund => "12",
            _ => "11",
        }
    }

    fn items(self) -> &'static [ItemSpec] {
        match self {
            Dept::Market => &MARKET_ITEMS,
            Dept::Police => &POLICE_ITEMS,
            Dept::Labour => &LABOUR_ITEMS,
            Dept::Property => &PROPERTY_ITEMS,
            Dept::Fund => &FUND_ITEMS,
            Dept::Tax => &TAX_ITEMS,
            Dept::Medical => &MEDICAL_ITEMS,
        }
    }

    fn window_label(self) -> &'static str {
        match self {
            Dept::Market => "市场监管综合窗口",
            Dept::Police => "公安综合窗口",
            Dept::Labour => "人社综合窗口",
            Dept::Property => "不动产登记窗口",
            Dept::Fund => "公积金服务窗口",
            Dept::Tax => "税务综合窗口",
            Dept::Medical => "医保服务窗口",
        }
    }

    /// Relative traffic of one of its windows.
    fn traffic(self) -> f64 {
        match self {
            Dept::Property => 1.4,
            Dept::Police => 1.3,
            Dept::Labour => 1.1,
            Dept::Fund => 0.9,
            Dept::Market | Dept::Tax | Dept::Medical => 1.0,
        }
    }

    /// Share of cases whose applicant is a company rather than a person.
    fn enterprise_share(self) -> f64 {
        match self {
            Dept::Market => 0.55,
            Dept::Tax => 0.6,
            Dept::Property => 0.15,
            Dept::Fund => 0.05,
            Dept::Police | Dept::Labour | Dept::Medical => 0.02,
        }
    }
}

/// A window to lay out: department, label, and the slice of the department's items it serves.
type WindowSpec = (Dept, &'static str, std::ops::Range<usize>);

fn city_windows() -> Vec<WindowSpec> {
    let all = |dept: Dept| (dept, dept.window_label(), 0..dept.items().len());
    vec![
        all(Dept::Market),
        all(Dept::Market),
        (Dept::Police, "公安户政窗口", 0..3),
        (Dept::Police, "出入境窗口", 3..5),
        all(Dept::Labour),
        all(Dept::Property),
        all(Dept::Property),
        all(Dept::Fund),
        all(Dept::Tax),
        all(Dept::Medical),
    ]
}

/// Departments of a county: four everywhere, plus 税务 or 医保 in turn.
fn county_departments(index: usize) -> Vec<Dept> {
    let mut depts = vec![Dept::Market, Dept::Police, Dept::Labour, Dept::Property];
    depts.push(if index % 3 == 2 {
        Dept::Tax
    } else {
        Dept::Medical
    });
    depts
}

const SURNAMES: [&str; 60] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "姚", "卢", "姜", "崔", "贾", "范", "石", "秦", "闫", "段", "侯",
];
const GIVEN: [&str; 48] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "霞", "平", "刚", "辉", "鹏", "华", "红", "玲", "建", "国", "志", "文", "晓", "雪", "婷",
    "浩", "宇", "佳", "欣", "凯", "飞", "俊", "亚", "丹", "琳", "峰", "瑞", "子", "梦", "振", "海",
];
const COMPANY_WORDS: [&str; 16] = [
    "恒达", "鑫源", "宏远", "华鹰", "中原", "瑞丰", "金鼎", "博通", "天成", "嘉禾", "鹰城", "汇通",
    "宏泰", "永兴", "盛世", "豫通",
];
const INDUSTRIES: [&str; 10] = [
    "商贸",
    "建材",
    "科技",
    "餐饮管理",
    "物流",
    "农业开发",
    "电子",
    "建筑工程",
    "医药",
    "文化传媒",
];

fn person_name(rng: &mut StdRng) -> String {
    let mut name = String::with_capacity(9);
    name.push_str(SURNAMES[rng.gen_range(0..SURNAMES.len())]);
    name.push_str(GIVEN[rng.gen_range(0..GIVEN.len())]);
    if rng.gen_bool(0.6) {
        name.push_str(GIVEN[rng.gen_range(0..GIVEN.len())]);
    }
    name
}

/// A 9-character 组织机构代码 (GB 11714): 8 digits and a mod-11 check character.
fn organisation_code(rng: &mut StdRng) -> String {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let digits: Vec<u32> = (0..8).map(|_| rng.gen_range(0..10)).collect();
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit * weight)
        .sum();
    let check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from_digit(digit, 10).unwrap_or('0'),
    };
    let mut code: String = digits
        .iter()
        .filter_map(|digit| char::from_digit(*digit, 10))
        .collect();
    code.push(check);
    code
}

/// A 统一社会信用代码 (GB 32100): category, region, organisation code, check character.
fn credit_code(category: &str, region: &str, rng: &mut StdRng) -> String {
    let mut code = format!("{category}{region}{}", organisation_code(rng));
    // Built from the GB 32100 charset only, so the check character always exists.
    code.push(credit_check_char(&code).unwrap_or('0'));
    code
}

/// Collects master data in dependency order.
struct Builder {
    rng: StdRng,
    regions: Vec<OrgUnit>,
    halls: Vec<OrgUnit>,
    departments: Vec<OrgUnit>,
    window_units: Vec<OrgUnit>,
    staff: Vec<Staff>,
    devices: Vec<Device>,
    items: Vec<ServiceItem>,
    windows: Vec<DemoWindow>,
    /// (region, dept, 统一社会信用代码, task codes in the order of `Dept::items`)
    dept_codes: Vec<(String, Dept, String, Vec<String>)>,
}

fn unit(id: &str, kind: OrgKind, name: &str, parent: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.to_string(),
        kind,
        name: name.to_string(),
        parent: parent.map(String::from),
        department: None,
        has_device: false,
        has_qr_code: false,
    }
}

/// Where a hall sits and how its windows are equipped.
struct HallPlan<'a> {
    id: String,
    name: String,
    kind: OrgKind,
    region: &'a str,
    /// The region whose departments staff the windows (the county for townships and villages).
    dept_region: &'a str,
    device_model: Option<&'a str>,
    windows: Vec<WindowSpec>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            rng: StdRng::seed_from_u64(MASTER_SEED),
            regions: Vec::new(),
            halls: Vec::new(),
            departments: Vec::new(),
            window_units: Vec::new(),
            staff: Vec::new(),
            devices: Vec::new(),
            items: Vec::new(),
            windows: Vec::new(),
            dept_codes: Vec::new(),
        }
    }

    fn department(&mut self, region: &str, region_name: &str, dept: Dept) {
        let code = credit_code(dept.category(), region, &mut self.rng);
        self.departments.push(unit(
            &code,
            OrgKind::Department,
            &dept.name(region_name),
            Some(region),
        ));
        let mut task_codes = Vec::new();
        for &(name, kind, serial) in dept.items() {
            // 实施编码: department code, 事项类型, 基本编码 serial, 办理项 suffix (31 characters).
            let task_code = format!("{code}{}{serial:05}000000", kind.code());
            self.items.push(ServiceItem {
                task_code: task_code.clone(),
                name: name.to_string(),
                department: code.clone(),
                task_type: kind.label().to_string(),
            });
            task_codes.push(task_code);
        }
        self.dept_codes
            .push((region.to_string(), dept, code, task_codes));
    }

    fn dept_code(&self, region: &str, dept: Dept) -> Option<(&str, &[String])> {
        self.dept_codes
            .iter()
            .find(|(at, kind, _, _)| at == region && *kind == dept)
            .map(|(_, _, code, tasks)| (code.as_str(), tasks.as_slice()))
    }

    fn hall(&mut self, plan: HallPlan<'_>) {
        let mut hall = unit(&plan.id, plan.kind, &plan.name, Some(plan.region));
        if plan.kind == OrgKind::ServicePoint {
            hall.has_qr_code = true;
        }
        self.halls.push(hall);
        let mut staff_serial = 0;
        for (index, (dept, label, range)) in plan.windows.into_iter().enumerate() {
            let Some((department, tasks)) = self.dept_code(plan.dept_region, dept) else {
                continue;
            };
            let department = department.to_string();
            let items: Vec<String> = tasks.get(range).unwrap_or_default().to_vec();
            let number = index + 1;
            let window_id = format!("W{}-{number:02}", plan.region);
            self.window_units.push(OrgUnit {
                id: window_id.clone(),
                kind: OrgKind::Window,
                name: format!("{label}A{number:02}"),
                parent: Some(plan.id.clone()),
                department: Some(department.clone()),
                has_device: plan.device_model.is_some(),
                has_qr_code: true,
            });
            let mut staff_ids = Vec::new();
            let headcount = if plan.kind == OrgKind::ServicePoint || self.rng.gen_bool(0.4) {
                1
            } else {
                2
            };
            for _ in 0..headcount {
                staff_serial += 1;
                let id = format!("S{}-{staff_serial:04}", plan.region);
                let name = person_name(&mut self.rng);
                self.staff.push(Staff {
                    id: id.clone(),
                    name,
                    department: department.clone(),
                    window: Some(window_id.clone()),
                });
                staff_ids.push(id);
            }
            let device = plan.device_model.map(|model| {
                let id = format!("D{}-{number:03}", plan.region);
                self.devices.push(Device {
                    id: id.clone(),
                    model: model.to_string(),
                    window: window_id.clone(),
                });
                id
            });
            self.windows.push(DemoWindow {
                window: window_id,
                hall: plan.id.clone(),
                area_code: plan.region.to_string(),
                department,
                staff: staff_ids,
                device,
                items,
            });
        }
    }

    fn build(mut self) -> DemoCity {
        self.regions
            .push(unit(CITY_CODE, OrgKind::City, CITY_NAME, None));
        for (code, name, _) in COUNTIES {
            self.regions
                .push(unit(code, OrgKind::County, name, Some(CITY_CODE)));
        }
        for (county, code, name, village) in TOWNSHIPS {
            self.regions
                .push(unit(code, OrgKind::Township, name, Some(county)));
            if let Some((village_code, village_name)) = village {
                self.regions.push(unit(
                    village_code,
                    OrgKind::Village,
                    village_name,
                    Some(code),
                ));
            }
        }

        for dept in Dept::ALL {
            self.department(CITY_CODE, CITY_NAME, dept);
        }
        for (index, (code, name, _)) in COUNTIES.iter().enumerate() {
            for dept in county_departments(index) {
                self.department(code, name, dept);
            }
        }

        self.hall(HallPlan {
            id: format!("H{CITY_CODE}"),
            name: format!("{CITY_NAME}政务服务中心"),
            kind: OrgKind::Hall,
            region: CITY_CODE,
            dept_region: CITY_CODE,
            device_model: Some("HX-PJ200"),
            windows: city_windows(),
        });
        for (index, (code, name, _)) in COUNTIES.iter().enumerate() {
            let windows = county_departments(index)
                .into_iter()
                .map(|dept| (dept, dept.window_label(), 0..dept.items().len()))
                .collect();
            self.hall(HallPlan {
                id: format!("H{code}"),
                name: format!("{name}政务服务中心"),
                kind: OrgKind::Hall,
                region: code,
                dept_region: code,
                device_model: Some(if index % 2 == 0 { "HX-PJ200" } else { "ZW-E7" }),
                windows,
            });
        }
        // Township 便民服务中心 and village 便民服务站: static QR codes, no devices.
        for (county, code, name, village) in TOWNSHIPS {
            let labour = (Dept::Labour, "社保服务窗口", 0..LABOUR_ITEMS.len());
            let medical = (Dept::Medical, "医保服务窗口", 0..MEDICAL_ITEMS.len());
            self.hall(HallPlan {
                id: format!("H{code}"),
                name: format!("{name}便民服务中心"),
                kind: OrgKind::Hall,
                region: code,
                dept_region: county,
                device_model: None,
                windows: vec![labour, medical],
            });
            if let Some((village_code, village_name)) = village {
                self.hall(HallPlan {
                    id: format!("SP{village_code}"),
                    name: format!("{village_name}便民服务站"),
                    kind: OrgKind::ServicePoint,
                    region: village_code,
                    dept_region: county,
                    device_model: None,
                    windows: vec![(Dept::Labour, "代办服务窗口", 0..LABOUR_ITEMS.len())],
                });
            }
        }

        let mut master = Vec::new();
        master.extend(self.regions.into_iter().map(MasterChange::OrgUnit));
        master.extend(self.halls.into_iter().map(MasterChange::OrgUnit));
        master.extend(self.departments.into_iter().map(MasterChange::OrgUnit));
        master.extend(self.window_units.into_iter().map(MasterChange::OrgUnit));
        master.extend(self.staff.into_iter().map(MasterChange::Staff));
        // Device models come before their devices. The demo's simulated presses are random
        // and independent, so the double-press guard stays off (0) to keep the history whole.
        for (model, vendor) in [("HX-PJ200", "华信智能"), ("ZW-E7", "正微科技")] {
            master.push(MasterChange::DeviceModel(DeviceModel {
                model: model.into(),
                vendor: vendor.into(),
                min_press_interval_secs: 0,
            }));
        }
        master.extend(self.devices.into_iter().map(MasterChange::Device));
        master.extend(self.items.iter().cloned().map(MasterChange::Item));
        DemoCity {
            master,
            windows: self.windows,
            items: self.items,
            regions: COUNTIES
                .iter()
                .map(|(code, _, _)| code.to_string())
                .collect(),
        }
    }
}

/// The demo city's master data. Deterministic: the same ids on every call.
pub fn city() -> DemoCity {
    Builder::new().build()
}

/// The window whose staff member has the window-staff demo login, and whose department has the
/// department-handler login (the city hall's first 不动产登记 window, a problem window).
const DEMO_STAFF_WINDOW: &str = "W410400-06";

/// Demo logins, one per role, all with the same password hash.
pub fn users(password_hash: &str) -> Vec<User> {
    let city = city();
    let window = city
        .windows
        .iter()
        .find(|window| window.window == DEMO_STAFF_WINDOW);
    let staff = window
        .and_then(|window| window.staff.first())
        .and_then(|id| {
            city.master.iter().find_map(|change| match change {
                MasterChange::Staff(staff) if &staff.id == id => Some(staff.clone()),
                _ => None,
            })
        });
    let user =
        |username: &str, display_name: &str, role: Role, scope: &str, staff_id: Option<&str>| {
            User {
                username: username.to_string(),
                display_name: display_name.to_string(),
                role,
                scope: scope.to_string(),
                staff_id: staff_id.map(String::from),
                password_hash: password_hash.to_string(),
                disabled: false,
            }
        };
    let mut users = vec![
        user("admin", "系统管理员", Role::Admin, CITY_CODE, None),
        user(
            "city_supervisor",
            "市政务服务和大数据管理局 监督员",
            Role::Supervisor,
            CITY_CODE,
            None,
        ),
        user(
            "baofeng_supervisor",
            "宝丰县政务服务中心 监督员",
            Role::Supervisor,
            "410421",
            None,
        ),
    ];
    if let Some(window) = window {
        users.push(user(
            "handler",
            "平顶山市不动产登记中心 办理员",
            Role::DepartmentHandler,
            &window.department,
            None,
        ));
    }
    if let Some(staff) = &staff
        && let Some(window) = &staff.window
    {
        users.push(user(
            "window_staff",
            &format!("{}（窗口工作人员）", staff.name),
            Role::WindowStaff,
            window,
            Some(&staff.id),
        ));
    }
    users.extend([
        user(
            "callback",
            "12345 回访专员",
            Role::CallbackAgent,
            CITY_CODE,
            None,
        ),
        user("reviewer", "评价审核员", Role::Reviewer, CITY_CODE, None),
        user("rule_editor", "规则编辑", Role::RuleEditor, CITY_CODE, None),
    ]);
    users
}

// ---------------------------------------------------------------------------------------------
// Time

/// Working slots of a hall day in local time: (start minute, length in minutes, share of acts).
/// Halls open 8:30-12:00 and 14:30-17:30; mid-morning and mid-afternoon are busiest.
const SLOTS: [(i64, i64, f64); 7] = [
    (8 * 60 + 30, 60, 0.16),
    (9 * 60 + 30, 60, 0.19),
    (10 * 60 + 30, 60, 0.17),
    (11 * 60 + 30, 30, 0.06),
    (14 * 60 + 30, 60, 0.15),
    (15 * 60 + 30, 60, 0.16),
    (16 * 60 + 30, 60, 0.11),
];

fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + Duration::hours(CHINA_OFFSET_HOURS)
}

/// The instant of `minute` past local midnight of `date`.
fn at_local(date: NaiveDate, minute: i64) -> DateTime<Utc> {
    (date.and_time(NaiveTime::MIN) + Duration::minutes(minute)
        - Duration::hours(CHINA_OFFSET_HOURS))
    .and_utc()
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Weekdays only; holidays are not modelled in the demo.
fn working_days_after(mut date: NaiveDate, days: u32) -> NaiveDate {
    let mut left = days;
    while left > 0 {
        date += Duration::days(1);
        if !is_weekend(date) {
            left -= 1;
        }
    }
    date
}

fn yyyymmdd(date: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

// ---------------------------------------------------------------------------------------------
// Traffic

/// What a bad review complains about. The indicator codes are the four public examples of the
/// national catalogue; their meanings here are the demo's own assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Theme {
    Waiting,
    Attitude,
    Materials,
    System,
    Errands,
}

impl Theme {
    const ALL: [Theme; 5] = [
        Theme::Waiting,
        Theme::Attitude,
        Theme::Materials,
        Theme::System,
        Theme::Errands,
    ];

    fn indicator(self) -> &'static str {
        match self {
            Theme::Waiting => "510",
            Theme::Attitude => "501",
            Theme::Materials | Theme::Errands => "502",
            Theme::System => "517",
        }
    }

    fn texts(self) -> &'static [&'static str] {
        match self {
            Theme::Waiting => &[
                "排队时间太长",
                "取号后等了一个多小时才办上",
                "窗口开得太少，上午排不上号",
            ],
            Theme::Attitude => &[
                "工作人员态度冷淡",
                "问了几遍都不耐烦，说话生硬",
                "工作人员办事时一直看手机",
            ],
            Theme::Materials => &[
                "材料要求反复变化",
                "一次性告知不到位，来回补材料",
                "网上公布的材料清单和窗口要求的不一样",
            ],
            Theme::System => &[
                "系统卡顿无法提交",
                "系统故障等了半天，白跑一趟",
                "网上申报一直报错，只能来窗口",
            ],
            Theme::Errands => &[
                "需多次跑腿",
                "跑了三趟还没办完",
                "要求回原单位开证明，来回折腾",
            ],
        }
    }
}

/// Windows with a standing problem: (window, bad-review factor, what people complain about,
/// whether it is one staff member's conduct rather than the window's).
const PROBLEM_WINDOWS: [(&str, f64, Theme, bool); 3] = [
    (DEMO_STAFF_WINDOW, 3.5, Theme::Waiting, false),
    ("W410423-02", 4.0, Theme::Attitude, true),
    ("W410421-01", 3.0, Theme::Materials, false),
];

/// Channel mix at windows with a rating device, and at QR-only windows.
const DEVICE_CHANNELS: [(Channel, f64); 7] = [
    (Channel::HallDevice, 58.5),
    (Channel::QrCode, 13.0),
    (Channel::Mobile, 12.0),
    (Channel::Pc, 8.0),
    (Channel::Sms, 3.5),
    (Channel::Phone, 1.5),
    (Channel::SystemDefault, 3.5),
];
const QR_CHANNELS: [(Channel, f64); 6] = [
    (Channel::QrCode, 52.0),
    (Channel::Mobile, 20.0),
    (Channel::Sms, 10.0),
    (Channel::Pc, 5.0),
    (Channel::Phone, 8.0),
    (Channel::SystemDefault, 5.0),
];
/// Share of service acts nobody rates (they are invited later).
const UNRATED: f64 = 0.05;
/// Share of bad first ratings followed by a 追评.
const FOLLOW_UP: f64 = 0.15;
/// Natural days after which an unrated act gets the default rating.
const DEFAULT_AFTER_DAYS: i64 = 7;

fn pick<T: Copy>(rng: &mut StdRng, weights: &[(T, f64)]) -> Option<T> {
    let total: f64 = weights.iter().map(|(_, weight)| weight).sum();
    let mut x = rng.gen_range(0.0..total.max(f64::MIN_POSITIVE));
    for &(value, weight) in weights {
        if x < weight {
            return Some(value);
        }
        x -= weight;
    }
    weights.last().map(|(value, _)| *value)
}

fn real_name_share(channel: Channel) -> f64 {
    match channel {
        Channel::HallDevice | Channel::HallTerminal => 0.15,
        Channel::QrCode => 0.3,
        Channel::Mobile => 0.8,
        Channel::Pc => 0.85,
        Channel::Sms => 0.6,
        Channel::Phone => 1.0,
        Channel::SystemDefault => 0.0,
    }
}

/// One step of a case: (service name, status after it, gap since the previous step).
#[derive(Debug, Clone, Copy)]
enum Gap {
    /// The same visit, this many minutes later (range).
    Minutes(i64, i64),
    /// A later visit, up to this many working days later.
    WorkingDays(u32),
}

type Step = (&'static str, CaseStatus, Gap);

const PLANS: [(&[Step], f64); 8] = [
    (&[("申报", CaseStatus::Completed, Gap::Minutes(0, 0))], 35.0),
    (&[("咨询", CaseStatus::Submitted, Gap::Minutes(0, 0))], 15.0),
    (
        &[
            ("申报", CaseStatus::Accepted, Gap::Minutes(0, 0)),
            ("签收", CaseStatus::Completed, Gap::WorkingDays(5)),
        ],
        15.0,
    ),
    (
        &[
            ("咨询", CaseStatus::Submitted, Gap::Minutes(0, 0)),
            ("申报", CaseStatus::Completed, Gap::Minutes(5, 20)),
        ],
        10.0,
    ),
    (
        &[
            ("申报", CaseStatus::Accepted, Gap::Minutes(0, 0)),
            ("缴费", CaseStatus::Completed, Gap::Minutes(10, 40)),
        ],
        5.0,
    ),
    (
        &[
            ("咨询", CaseStatus::Submitted, Gap::Minutes(0, 0)),
            ("申报", CaseStatus::Accepted, Gap::Minutes(5, 20)),
            ("签收", CaseStatus::Completed, Gap::WorkingDays(5)),
        ],
        10.0,
    ),
    (
        &[
            ("申报", CaseStatus::Accepted, Gap::Minutes(0, 0)),
            ("补正", CaseStatus::Accepted, Gap::WorkingDays(3)),
            ("签收", CaseStatus::Completed, Gap::WorkingDays(5)),
        ],
        5.0,
    ),
    (
        &[
            ("申报", CaseStatus::Accepted, Gap::Minutes(0, 0)),
            ("缴费", CaseStatus::Accepted, Gap::Minutes(10, 40)),
            ("签收", CaseStatus::Completed, Gap::WorkingDays(5)),
        ],
        5.0,
    ),
];

/// How the simulator treats one window.
#[derive(Debug, Clone)]
struct WindowProfile {
    bad_factor: f64,
    /// The staff member the extra bad reviews concentrate on, when the problem is personal.
    problem_staff: Option<usize>,
    theme: Option<Theme>,
    has_device: bool,
    enterprise_share: f64,
    /// 税务 windows share the tax system, which has an outage now and then.
    tax: bool,
    item_names: Vec<String>,
    /// The county code that prefixes project numbers.
    prefix: String,
    /// Region name used in company names.
    place: String,
}

#[derive(Debug, Clone)]
struct Person {
    name: String,
    phone: String,
    id_number: String,
}

/// A case being generated.
struct CaseCtx {
    window: usize,
    project_no: String,
    project_name: String,
    task_code: String,
    applicant: ApplicantType,
    person: Option<Person>,
}

/// A service act being generated.
struct Act {
    number: u8,
    name: &'static str,
    status: CaseStatus,
    at: DateTime<Utc>,
    staff: Option<usize>,
}

/// Simulated traffic of the demo city's business systems and devices. Deterministic for a seed.
/// Use one simulator for both [`Simulator::history`] and [`Simulator::live`] so that project
/// numbers stay unique.
pub struct Simulator {
    rng: StdRng,
    city: DemoCity,
    next_case: u64,
    profiles: Vec<WindowProfile>,
    /// Cumulative traffic weights of the windows, for weighted choice.
    traffic: Vec<f64>,
    /// Tie-breaker of equal instants in the history queue: generation order.
    order: u64,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("windows", &self.city.windows.len())
            .field("next_case", &self.next_case)
            .finish()
    }
}

impl Simulator {
    pub fn new(city: DemoCity, seed: u64) -> Simulator {
        let mut rng = StdRng::seed_from_u64(seed);
        let names: HashMap<&str, &str> = city
            .master
            .iter()
            .filter_map(|change| match change {
                MasterChange::OrgUnit(unit) => Some((unit.id.as_str(), unit.name.as_str())),
                _ => None,
            })
            .collect();
        let item_names: HashMap<&str, &str> = city
            .items
            .iter()
            .map(|item| (item.task_code.as_str(), item.name.as_str()))
            .collect();
        let mut profiles = Vec::with_capacity(city.windows.len());
        let mut traffic = Vec::with_capacity(city.windows.len());
        let mut total = 0.0;
        for window in &city.windows {
            let dept = names
                .get(window.department.as_str())
                .and_then(|name| Dept::from_name(name));
            let prefix = window.area_code.get(..6).unwrap_or(CITY_CODE).to_string();
            let scale = COUNTIES
                .iter()
                .find(|(code, _, _)| *code == prefix)
                .map_or(1.0, |(_, _, scale)| *scale);
            let hall_traffic = match window.area_code.len() {
                6 if window.area_code == CITY_CODE => 3.0,
                6 => 1.5 * scale,
                9 => 0.5,
                _ => 0.15,
            };
            total += hall_traffic * dept.map_or(1.0, Dept::traffic);
            traffic.push(total);
            let problem = PROBLEM_WINDOWS
                .iter()
                .find(|(id, _, _, _)| *id == window.window);
            let bad_factor = match problem {
                Some((_, factor, _, _)) => *factor,
                None => rng.gen_range(0.5..1.2),
            };
            let place = match names.get(prefix.as_str()) {
                Some(name) if prefix != CITY_CODE => name.to_string(),
                _ => "平顶山".to_string(),
            };
            profiles.push(WindowProfile {
                bad_factor,
                problem_staff: problem.filter(|(_, _, _, personal)| *personal).map(|_| 0),
                theme: problem.map(|(_, _, theme, _)| *theme),
                has_device: window.device.is_some(),
                enterprise_share: dept.map_or(0.05, Dept::enterprise_share),
                tax: dept == Some(Dept::Tax),
                item_names: window
                    .items
                    .iter()
                    .map(|code| {
                        item_names
                            .get(code.as_str())
                            .unwrap_or(&"政务服务")
                            .to_string()
                    })
                    .collect(),
                prefix,
                place,
            });
        }
        Simulator {
            rng,
            city,
            next_case: 0,
            profiles,
            traffic,
            order: 0,
        }
    }

    /// The city the simulator runs.
    pub fn city(&self) -> &DemoCity {
        &self.city
    }

    /// About `days` days of history ending at `now`: service acts in the halls' working hours on
    /// weekdays (`per_day` acts city-wide per working day), most rated shortly after, and the
    /// late ratings (SMS, phone invitations, default ratings, 追评) as they fall due. Commands
    /// come in time order, generated lazily; nothing lies after `now`.
    pub fn history(
        &mut self,
        now: DateTime<Utc>,
        days: u32,
        per_day: u32,
    ) -> impl Iterator<Item = Command> + '_ {
        self.timed_history(now, days, per_day)
            .map(|(_, command)| command)
    }

    /// [`Simulator::history`], each command with the instant it happens at (a service act's
    /// time, a rating's press), so that it can be stored at that instant.
    pub fn timed_history(
        &mut self,
        now: DateTime<Utc>,
        days: u32,
        per_day: u32,
    ) -> impl Iterator<Item = (DateTime<Utc>, Command)> + '_ {
        let last_date = local(now).date();
        let first_date = last_date - Duration::days(i64::from(days) - 1);
        History {
            sim: self,
            now,
            per_day: f64::from(per_day),
            date: first_date,
            last_date,
            slot: 0,
            day_factor: 1.0,
            horizon: None,
            finished: days == 0,
            pending: BinaryHeap::new(),
            scratch: Vec::new(),
        }
    }

    /// Live traffic at `now`: `count` commands, each service act followed by its rating (a
    /// hall device or QR code press within the last minutes).
    pub fn live(&mut self, now: DateTime<Utc>, count: usize) -> Vec<Command> {
        let mut out = Vec::with_capacity(count + 1);
        while out.len() < count {
            let Some(window) = self.pick_window() else {
                break;
            };
            let act_at = now - Duration::seconds(self.rng.gen_range(60..=600));
            // Stamped with the tick, so that another or a restarted simulator does not reuse a
            // number (history numbers are four characters shorter).
            let stamp = local(now);
            let project_no = format!(
                "{}{}{:02}{:02}{:02}{:04}",
                self.profiles[window].prefix,
                yyyymmdd(stamp.date()),
                stamp.hour(),
                stamp.minute(),
                stamp.second(),
                self.next_case % 10_000
            );
            let mut ctx = self.open_case(window, project_no);
            let (name, status) = if self.rng.gen_bool(0.8) {
                ("申报", CaseStatus::Completed)
            } else {
                ("咨询", CaseStatus::Submitted)
            };
            let act = Act {
                number: 1,
                name,
                status,
                at: act_at,
                staff: self.pick_staff(window),
            };
            out.push(self.service(&ctx, &act));
            let weights: &[(Channel, f64)] = if self.profiles[window].has_device {
                &[
                    (Channel::HallDevice, 80.0),
                    (Channel::QrCode, 15.0),
                    (Channel::Mobile, 5.0),
                ]
            } else {
                &[(Channel::QrCode, 80.0), (Channel::Mobile, 20.0)]
            };
            let channel = pick(&mut self.rng, weights).unwrap_or(Channel::QrCode);
            let rated_at = now - Duration::seconds(self.rng.gen_range(0..=30));
            let (rating, _) = self.active_rating(&mut ctx, &act, channel, rated_at);
            out.push(rating);
        }
        out.truncate(count);
        out
    }

    fn pick_window(&mut self) -> Option<usize> {
        let total = *self.traffic.last()?;
        let x = self.rng.gen_range(0.0..total);
        Some(
            self.traffic
                .partition_point(|&bound| bound <= x)
                .min(self.traffic.len() - 1),
        )
    }

    fn pick_staff(&mut self, window: usize) -> Option<usize> {
        let count = self.city.windows[window].staff.len();
        (count > 0).then(|| self.rng.gen_range(0..count))
    }

    fn open_case(&mut self, window: usize, project_no: String) -> CaseCtx {
        self.next_case += 1;
        let profile = &self.profiles[window];
        let items = &self.city.windows[window].items;
        // Earlier items of a department are the common ones.
        let weights: Vec<(usize, f64)> = (0..items.len())
            .map(|index| (index, (items.len() - index) as f64))
            .collect();
        let item = pick(&mut self.rng, &weights).unwrap_or(0);
        let task_code = items.get(item).cloned().unwrap_or_default();
        let item_name = profile.item_names.get(item).cloned().unwrap_or_default();
        let enterprise = self.rng.gen_bool(profile.enterprise_share.clamp(0.0, 1.0));
        let (applicant, project_name) = if enterprise {
            let company = format!(
                "{}{}{}有限公司",
                profile.place,
                COMPANY_WORDS[self.rng.gen_range(0..COMPANY_WORDS.len())],
                INDUSTRIES[self.rng.gen_range(0..INDUSTRIES.len())]
            );
            (
                ApplicantType::EnterpriseLegalPerson,
                format!("{company}{item_name}"),
            )
        } else {
            (ApplicantType::NaturalPerson, item_name)
        };
        CaseCtx {
            window,
            project_no,
            project_name,
            task_code,
            applicant,
            person: None,
        }
    }

    /// Generates a case whose first act happens at `first_at`, with everything that follows from
    /// it up to `limit`, into `out`. Returns the number of service acts planned.
    fn case(
        &mut self,
        window: usize,
        first_at: DateTime<Utc>,
        limit: DateTime<Utc>,
        out: &mut Vec<(DateTime<Utc>, Command)>,
    ) -> u32 {
        let first_date = local(first_at).date();
        let project_no = format!(
            "{}{}{:06}",
            self.profiles[window].prefix,
            yyyymmdd(first_date),
            (self.next_case + 1) % 1_000_000
        );
        let mut ctx = self.open_case(window, project_no);
        let weights: Vec<(usize, f64)> = PLANS
            .iter()
            .enumerate()
            .map(|(index, (_, weight))| (index, *weight))
            .collect();
        let steps = PLANS[pick(&mut self.rng, &weights).unwrap_or(0)].0;
        let staff = self.pick_staff(window);
        let mut at = first_at;
        for (index, &(name, status, gap)) in steps.iter().enumerate() {
            at = match gap {
                Gap::Minutes(low, high) if index > 0 => {
                    at + Duration::seconds(self.rng.gen_range(low * 60..=high * 60))
                }
                Gap::Minutes(..) => at,
                Gap::WorkingDays(most) => {
                    let date = working_days_after(local(at).date(), self.rng.gen_range(1..=most));
                    self.working_time(date)
                }
            };
            if at > limit {
                break;
            }
            // Later visits may meet another member of the window's staff.
            let staff = match gap {
                Gap::WorkingDays(_) => self.pick_staff(window),
                Gap::Minutes(..) => staff,
            };
            let act = Act {
                number: u8::try_from(index + 1).unwrap_or(1),
                name,
                status,
                at,
                staff,
            };
            out.push((at, self.service(&ctx, &act)));
            self.rate(&mut ctx, &act, limit, out);
        }
        u32::try_from(steps.len()).unwrap_or(1)
    }

    /// A random instant within the working hours of `date`.
    fn working_time(&mut self, date: NaiveDate) -> DateTime<Utc> {
        let weights: Vec<(usize, f64)> = SLOTS
            .iter()
            .enumerate()
            .map(|(index, slot)| (index, slot.2))
            .collect();
        let (start, length, _) = SLOTS[pick(&mut self.rng, &weights).unwrap_or(0)];
        at_local(date, start) + Duration::seconds(self.rng.gen_range(0..length * 60))
    }

    fn service(&self, ctx: &CaseCtx, act: &Act) -> Command {
        let window = &self.city.windows[ctx.window];
        Command::Service {
            source: DEMO_SOURCE.to_string(),
            input: ServiceEventInput {
                event_id: format!("svc-{}-{}", ctx.project_no, act.number),
                project_no: ctx.project_no.clone(),
                project_name: ctx.project_name.clone(),
                task_code: ctx.task_code.clone(),
                department: window.department.clone(),
                area_code: window.area_code.clone(),
                service_number: act.number,
                service_name: act.name.to_string(),
                status: act.status,
                occurred_at: act.at,
                window: Some(window.window.clone()),
                staff: act.staff.and_then(|index| window.staff.get(index).cloned()),
                applicant_type: ctx.applicant,
                applicant_phone: None,
                online: false,
            },
        }
    }

    /// The first rating of an act (if any) and a rare 追评, all up to `limit`.
    fn rate(
        &mut self,
        ctx: &mut CaseCtx,
        act: &Act,
        limit: DateTime<Utc>,
        out: &mut Vec<(DateTime<Utc>, Command)>,
    ) {
        if self.rng.gen_bool(UNRATED) {
            return;
        }
        let weights: &[(Channel, f64)] = if self.profiles[ctx.window].has_device {
            &DEVICE_CHANNELS
        } else {
            &QR_CHANNELS
        };
        let channel = pick(&mut self.rng, weights).unwrap_or(Channel::QrCode);
        if channel == Channel::SystemDefault {
            // The nightly sweep after the seventh natural day.
            let date = local(act.at).date() + Duration::days(DEFAULT_AFTER_DAYS + 1);
            let rated_at = at_local(date, self.rng.gen_range(30..90));
            if rated_at <= limit {
                let rating = self.rating(
                    ctx,
                    act,
                    1,
                    channel,
                    Level::Satisfied,
                    rated_at,
                    (Vec::new(), None),
                    anonymous(ctx.applicant),
                );
                out.push((rated_at, rating));
            }
            return;
        }
        let delay = match channel {
            Channel::HallDevice => self.rng.gen_range(15..=180),
            Channel::HallTerminal => self.rng.gen_range(60..=600),
            Channel::QrCode => self.rng.gen_range(60..=1200),
            Channel::Mobile if self.rng.gen_bool(0.7) => self.rng.gen_range(300..=7200),
            Channel::Mobile => self.rng.gen_range(7200..=172_800),
            Channel::Pc => self.rng.gen_range(3600..=259_200),
            Channel::Sms => self.rng.gen_range(600..=86_400),
            Channel::Phone | Channel::SystemDefault => self.rng.gen_range(86_400..=259_200),
        };
        let rated_at = act.at + Duration::seconds(delay);
        if rated_at > limit {
            return;
        }
        let (rating, bad) = self.active_rating(ctx, act, channel, rated_at);
        out.push((rated_at, rating));
        if let Some(theme) = bad
            && self.rng.gen_bool(FOLLOW_UP)
        {
            self.follow_up(ctx, act, rated_at, theme, limit, out);
        }
    }

    /// An active (non-default) first rating; returns the complaint theme when it is a 差评.
    fn active_rating(
        &mut self,
        ctx: &mut CaseCtx,
        act: &Act,
        channel: Channel,
        rated_at: DateTime<Utc>,
    ) -> (Command, Option<Theme>) {
        let profile = &self.profiles[ctx.window];
        let date = local(act.at);
        let outage = profile.tax && date.date().num_days_from_ce() % 29 == 11;
        let monday_morning = date.weekday() == Weekday::Mon && date.hour() < 12;
        let mut factor = match profile.problem_staff {
            Some(index) if act.staff != Some(index) => 1.0,
            _ => profile.bad_factor,
        };
        if outage {
            factor *= 6.0;
        }
        if monday_morning {
            factor *= 1.3;
        }
        let standing = profile.theme;
        let level = self.level(factor);
        let (detail, theme) = if level.is_bad() {
            let theme = self.theme(standing, outage, monday_morning);
            (self.bad_detail(theme), Some(theme))
        } else {
            ((Vec::new(), None), None)
        };
        let evaluator = if self.rng.gen_bool(real_name_share(channel)) {
            self.real_name(ctx)
        } else {
            anonymous(ctx.applicant)
        };
        let rating = self.rating(ctx, act, 1, channel, level, rated_at, detail, evaluator);
        (rating, theme)
    }

    fn follow_up(
        &mut self,
        ctx: &mut CaseCtx,
        act: &Act,
        first_at: DateTime<Utc>,
        theme: Theme,
        limit: DateTime<Utc>,
        out: &mut Vec<(DateTime<Utc>, Command)>,
    ) {
        // After the rectification feedback, a few days later.
        let rated_at = first_at + Duration::seconds(self.rng.gen_range(3 * 86_400..=10 * 86_400));
        if rated_at > limit {
            return;
        }
        let level = pick(
            &mut self.rng,
            &[
                (Level::VerySatisfied, 35.0),
                (Level::Satisfied, 30.0),
                (Level::BasicallySatisfied, 15.0),
                (Level::Dissatisfied, 20.0),
            ],
        )
        .unwrap_or(Level::Satisfied);
        let channel = pick(
            &mut self.rng,
            &[
                (Channel::Mobile, 50.0),
                (Channel::Phone, 30.0),
                (Channel::Sms, 20.0),
            ],
        )
        .unwrap_or(Channel::Mobile);
        let detail = if level.is_bad() {
            (
                vec![theme.indicator().to_string()],
                Some("整改后问题仍未解决".to_string()),
            )
        } else {
            (Vec::new(), None)
        };
        let evaluator = self.real_name(ctx);
        let rating = self.rating(ctx, act, 2, channel, level, rated_at, detail, evaluator);
        out.push((rated_at, rating));
    }

    fn level(&mut self, factor: f64) -> Level {
        // Base mix 80 / 11 / 5 / 2 / 1 (%), so that with the default ratings (满意) the whole is
        // about 78 / 14 / 5 / 2 / 1; problems scale the bad levels and part of 基本满意.
        let very_bad = 0.01 * factor;
        let bad = very_bad + 0.02 * factor;
        let basic = bad + 0.05 * (1.0 + (factor - 1.0) * 0.5).max(0.5);
        let satisfied = basic + 0.11;
        let x: f64 = self.rng.r#gen();
        if x < very_bad {
            Level::VeryDissatisfied
        } else if x < bad {
            Level::Dissatisfied
        } else if x < basic {
            Level::BasicallySatisfied
        } else if x < satisfied {
            Level::Satisfied
        } else {
            Level::VerySatisfied
        }
    }

    fn theme(&mut self, standing: Option<Theme>, outage: bool, monday_morning: bool) -> Theme {
        if outage && self.rng.gen_bool(0.8) {
            return Theme::System;
        }
        if let Some(theme) = standing
            && self.rng.gen_bool(0.7)
        {
            return theme;
        }
        if monday_morning && self.rng.gen_bool(0.4) {
            return Theme::Waiting;
        }
        Theme::ALL[self.rng.gen_range(0..Theme::ALL.len())]
    }

    /// Indicator codes and/or a comment: every 差评 carries at least one of them.
    fn bad_detail(&mut self, theme: Theme) -> (Vec<String>, Option<String>) {
        let texts = theme.texts();
        let text = texts[self.rng.gen_range(0..texts.len())].to_string();
        let mut indicators = vec![theme.indicator().to_string()];
        if self.rng.gen_bool(0.15) {
            let other = Theme::ALL[self.rng.gen_range(0..Theme::ALL.len())].indicator();
            if !indicators.iter().any(|code| code == other) {
                indicators.push(other.to_string());
            }
        }
        match self.rng.gen_range(0..100) {
            0..45 => (indicators, Some(text)),
            45..80 => (indicators, None),
            _ => (Vec::new(), Some(text)),
        }
    }

    /// The case's applicant, revealed: generated once per case.
    fn real_name(&mut self, ctx: &mut CaseCtx) -> EvaluatorInput {
        let person = match &ctx.person {
            Some(person) => person.clone(),
            None => {
                let person = Person {
                    name: person_name(&mut self.rng),
                    phone: phone(&mut self.rng),
                    id_number: id_number(&mut self.rng),
                };
                ctx.person = Some(person.clone());
                person
            }
        };
        EvaluatorInput {
            real_name: true,
            applicant_type: ctx.applicant,
            name: Some(person.name),
            phone: Some(person.phone),
            id_number: Some(person.id_number),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rating(
        &self,
        ctx: &CaseCtx,
        act: &Act,
        assess_number: u8,
        channel: Channel,
        level: Level,
        rated_at: DateTime<Utc>,
        (indicators, text): (Vec<String>, Option<String>),
        evaluator: EvaluatorInput,
    ) -> Command {
        let window = &self.city.windows[ctx.window];
        Command::Rating {
            source: DEMO_SOURCE.to_string(),
            input: RatingInput {
                event_id: format!("rt-{}-{}-{assess_number}", ctx.project_no, act.number),
                project_no: ctx.project_no.clone(),
                service_number: act.number,
                assess_number,
                task_code: ctx.task_code.clone(),
                department: window.department.clone(),
                area_code: window.area_code.clone(),
                service_name: Some(act.name.to_string()),
                window: Some(window.window.clone()),
                staff: act.staff.and_then(|index| window.staff.get(index).cloned()),
                device: if channel == Channel::HallDevice {
                    window.device.clone()
                } else {
                    None
                },
                level,
                channel,
                indicators,
                text,
                evaluator,
                rated_at,
            },
        }
    }
}

fn anonymous(applicant_type: ApplicantType) -> EvaluatorInput {
    EvaluatorInput {
        real_name: false,
        applicant_type,
        name: None,
        phone: None,
        id_number: None,
    }
}

const PHONE_PREFIXES: [&str; 20] = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "157", "158", "159", "180", "182", "186", "188",
];

fn phone(rng: &mut StdRng) -> String {
    format!(
        "{}{:08}",
        PHONE_PREFIXES[rng.gen_range(0..PHONE_PREFIXES.len())],
        rng.gen_range(0..100_000_000u32)
    )
}

/// Birth places of evaluators: mostly 平顶山, some elsewhere in 河南.
const ID_AREAS: [&str; 14] = [
    "410402", "410403", "410411", "410421", "410422", "410423", "410425", "410481", "410482",
    "410102", "410305", "411102", "411302", "410502",
];

/// An 18-character 居民身份证号码 with a valid birth date and ISO 7064 MOD 11-2 check character.
fn id_number(rng: &mut StdRng) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let body = format!(
        "{}{:04}{:02}{:02}{:03}",
        ID_AREAS[rng.gen_range(0..ID_AREAS.len())],
        rng.gen_range(1955..=2004),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
        rng.gen_range(1..=999)
    );
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(byte, weight)| u32::from(byte - b'0') * weight)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

/// A command waiting in the history queue; ordered so that the heap pops the earliest first.
struct Pending {
    at: DateTime<Utc>,
    order: u64,
    command: Command,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.order.cmp(&self.order))
    }
}

/// The lazy history: generates one working slot at a time and releases every queued command
/// earlier than the end of that slot, since nothing generated later can come before it.
struct History<'a> {
    sim: &'a mut Simulator,
    now: DateTime<Utc>,
    per_day: f64,
    date: NaiveDate,
    last_date: NaiveDate,
    slot: usize,
    day_factor: f64,
    /// Commands before this instant are final; `None` while nothing is generated yet.
    horizon: Option<DateTime<Utc>>,
    finished: bool,
    pending: BinaryHeap<Pending>,
    scratch: Vec<(DateTime<Utc>, Command)>,
}

impl History<'_> {
    fn advance(&mut self) {
        loop {
            if self.date > self.last_date {
                self.finished = true;
                return;
            }
            if self.slot >= SLOTS.len() || is_weekend(self.date) {
                self.date += Duration::days(1);
                self.slot = 0;
                continue;
            }
            let (start_minute, length, share) = SLOTS[self.slot];
            let start = at_local(self.date, start_minute);
            if start >= self.now {
                self.finished = true;
                return;
            }
            if self.slot == 0 {
                // Mondays are busy, Fridays quiet, and every day a little different.
                let weekday = match self.date.weekday() {
                    Weekday::Mon => 1.15,
                    Weekday::Tue => 1.05,
                    Weekday::Thu => 0.95,
                    Weekday::Fri => 0.85,
                    _ => 1.0,
                };
                self.day_factor = weekday * self.sim.rng.gen_range(0.9..1.1);
            }
            self.slot += 1;
            let expected = self.per_day * share * self.day_factor;
            let mut target = expected.floor();
            if self.sim.rng.gen_range(0.0..1.0) < expected - target {
                target += 1.0;
            }
            let mut acts = 0.0;
            while acts < target {
                let Some(window) = self.sim.pick_window() else {
                    break;
                };
                let at = start + Duration::seconds(self.sim.rng.gen_range(0..length * 60));
                if at > self.now {
                    // The slot is still running: only its past part happened.
                    acts += 1.0;
                    continue;
                }
                acts += f64::from(self.sim.case(window, at, self.now, &mut self.scratch));
            }
            for (at, command) in self.scratch.drain(..) {
                self.sim.order += 1;
                self.pending.push(Pending {
                    at,
                    order: self.sim.order,
                    command,
                });
            }
            self.horizon = Some(start + Duration::minutes(length));
            return;
        }
    }
}

impl Iterator for History<'_> {
    type Item = (DateTime<Utc>, Command);

    fn next(&mut self) -> Option<(DateTime<Utc>, Command)> {
        loop {
            if let Some(top) = self.pending.peek() {
                let ready = match self.horizon {
                    _ if self.finished => top.at <= self.now,
                    Some(horizon) => top.at < horizon,
                    None => false,
                };
                if ready {
                    return self
                        .pending
                        .pop()
                        .map(|pending| (pending.at, pending.command));
                }
            }
            if self.finished {
                self.pending.clear();
                return None;
            }
            self.advance();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;

    use hcp_core::auth::{Source, api_key_hash};
    use hcp_core::clock::ManualClock;
    use hcp_core::pii::PiiKey;
    use hcp_core::store::{Outcome, Store, StoreOptions};
    use hcp_core::validate;

    use super::*;

    /// Wednesday 2025-06-18, 17:00 in 平顶山.
    fn now() -> DateTime<Utc> {
        at_local(
            NaiveDate::from_ymd_opt(2025, 6, 18).unwrap_or_default(),
            17 * 60,
        )
    }

    fn ratings(commands: &[Command]) -> Vec<&RatingInput> {
        commands
            .iter()
            .filter_map(|command| match command {
                Command::Rating { input, .. } => Some(input),
                _ => None,
            })
            .collect()
    }

    fn services(commands: &[Command]) -> Vec<&ServiceEventInput> {
        commands
            .iter()
            .filter_map(|command| match command {
                Command::Service { input, .. } => Some(input),
                _ => None,
            })
            .collect()
    }

    fn share(part: usize, whole: usize) -> f64 {
        part as f64 / whole.max(1) as f64
    }

    #[test]
    fn master_data_is_valid_in_order() {
        let city = city();
        let mut units: HashMap<String, OrgUnit> = HashMap::new();
        let mut staff = HashSet::new();
        let mut devices = HashSet::new();
        let mut models = HashSet::new();
        let mut items = HashSet::new();
        for change in &city.master {
            match change {
                MasterChange::OrgUnit(unit) => {
                    let parent = unit.parent.as_ref().and_then(|id| units.get(id));
                    assert_eq!(validate::org_unit(unit, parent), Ok(()), "{unit:?}");
                    if let Some(department) = &unit.department {
                        assert_eq!(
                            units.get(department).map(|unit| unit.kind),
                            Some(OrgKind::Department)
                        );
                    }
                    if unit.kind == OrgKind::Department {
                        assert_eq!(validate::credit_code(&unit.id), Ok(()), "{}", unit.id);
                    }
                    assert!(
                        units.insert(unit.id.clone(), unit.clone()).is_none(),
                        "duplicate {}",
                        unit.id
                    );
                }
                MasterChange::Staff(member) => {
                    assert_eq!(
                        units.get(&member.department).map(|unit| unit.kind),
                        Some(OrgKind::Department)
                    );
                    let window = member.window.as_ref().and_then(|id| units.get(id));
                    assert_eq!(window.map(|unit| unit.kind), Some(OrgKind::Window));
                    assert!(staff.insert(member.id.clone()));
                }
                MasterChange::Device(device) => {
                    assert_eq!(
                        units.get(&device.window).map(|unit| unit.kind),
                        Some(OrgKind::Window)
                    );
                    assert!(
                        models.contains(&device.model),
                        "{} before its model",
                        device.id
                    );
                    assert!(devices.insert(device.id.clone()));
                }
                MasterChange::DeviceModel(model) => {
                    assert!(models.insert(model.model.clone()));
                }
                MasterChange::Item(item) => {
                    assert_eq!(
                        units.get(&item.department).map(|unit| unit.kind),
                        Some(OrgKind::Department)
                    );
                    assert!(item.task_code.len() <= 64);
                    assert!(items.insert(item.task_code.clone()));
                }
                MasterChange::User(_)
                | MasterChange::Source(_)
                | MasterChange::RotateWindowQr { .. } => {}
            }
        }
        assert_eq!(city.regions.len(), 10);
        assert_eq!(
            units.get(CITY_CODE).map(|unit| unit.kind),
            Some(OrgKind::City)
        );
        let kinds = |kind| units.values().filter(|unit| unit.kind == kind).count();
        assert_eq!(kinds(OrgKind::Township), 5);
        assert_eq!(kinds(OrgKind::Village), 2);
        assert_eq!(kinds(OrgKind::ServicePoint), 2);
        assert_eq!(kinds(OrgKind::Hall), 1 + 10 + 5);
        for window in &city.windows {
            let unit = units.get(&window.window);
            assert_eq!(
                unit.and_then(|unit| unit.parent.as_deref()),
                Some(window.hall.as_str())
            );
            assert_eq!(
                unit.map(|unit| unit.has_device),
                Some(window.device.is_some())
            );
            assert_eq!(
                unit.and_then(|unit| unit.department.as_deref()),
                Some(window.department.as_str())
            );
            assert_eq!(
                units
                    .get(&window.hall)
                    .and_then(|hall| hall.parent.as_deref()),
                Some(window.area_code.as_str())
            );
            assert!(!window.staff.is_empty() && window.staff.iter().all(|id| staff.contains(id)));
            assert!(window.device.iter().all(|id| devices.contains(id)));
            assert!(!window.items.is_empty());
            for code in &window.items {
                let item = city.items.iter().find(|item| &item.task_code == code);
                assert_eq!(
                    item.map(|item| item.department.as_str()),
                    Some(window.department.as_str())
                );
            }
        }
        let hall_windows = |hall: &str| {
            city.windows
                .iter()
                .filter(|window| window.hall == hall)
                .count()
        };
        assert!((6..=10).contains(&hall_windows("H410400")));
        for county in &city.regions {
            assert!(
                (3..=5).contains(&hall_windows(&format!("H{county}"))),
                "{county}"
            );
        }
        // The problem windows are the ones the narrative says.
        let name = |id: &str| {
            units
                .get(id)
                .map(|unit| unit.name.clone())
                .unwrap_or_default()
        };
        assert!(name(DEMO_STAFF_WINDOW).starts_with("不动产登记窗口"));
        assert!(name("W410423-02").starts_with("公安"));
        assert!(name("W410421-01").starts_with("市场监管"));
        assert_eq!(
            format!("{:?}", city.master),
            format!("{:?}", super::city().master)
        );
    }

    #[test]
    fn users_cover_every_role_in_known_scopes() {
        let city = city();
        let ids: HashSet<&str> = city
            .master
            .iter()
            .filter_map(|change| match change {
                MasterChange::OrgUnit(unit) => Some(unit.id.as_str()),
                _ => None,
            })
            .collect();
        let users = users("$argon2id$test");
        let roles: HashSet<Role> = users.iter().map(|user| user.role).collect();
        assert_eq!(roles.len(), 7);
        assert_eq!(users.len(), 8);
        assert!(users.iter().all(
            |user| ids.contains(user.scope.as_str()) && user.password_hash == "$argon2id$test"
        ));
        let staff = users.iter().find(|user| user.role == Role::WindowStaff);
        assert!(
            staff
                .and_then(|user| user.staff_id.as_deref())
                .is_some_and(|id| id.starts_with("S410400-"))
        );
        assert!(
            users
                .iter()
                .any(|user| user.role == Role::Supervisor && user.scope == "410421")
        );
    }

    #[test]
    fn history_is_valid_and_realistic() {
        let now = now();
        let mut simulator = Simulator::new(city(), 7);
        let commands: Vec<Command> = simulator.history(now, 10, 300).collect();
        let ratings = ratings(&commands);
        let services = services(&commands);
        let windows: HashMap<&str, &DemoWindow> = simulator
            .city()
            .windows
            .iter()
            .map(|window| (window.window.as_str(), window))
            .collect();

        // Shapes, time order, nothing in the future, unique ids.
        let mut last = DateTime::<Utc>::MIN_UTC;
        let mut event_ids = HashSet::new();
        let mut acts: HashMap<(&str, u8), &ServiceEventInput> = HashMap::new();
        let mut slots: HashMap<(&str, u8, u8), &RatingInput> = HashMap::new();
        for command in &commands {
            let at = match command {
                Command::Service { source, input } => {
                    assert_eq!(source, DEMO_SOURCE);
                    assert_eq!(validate::service_shape(input, now), Ok(()));
                    assert!(event_ids.insert(input.event_id.clone()));
                    assert!(
                        acts.insert((&input.project_no, input.service_number), input)
                            .is_none()
                    );
                    let window = input.window.as_deref().and_then(|id| windows.get(id));
                    assert_eq!(
                        window.map(|window| window.area_code.as_str()),
                        Some(input.area_code.as_str())
                    );
                    assert!(window.is_some_and(|window| window.items.contains(&input.task_code)));
                    let local = local(input.occurred_at);
                    assert!(!is_weekend(local.date()));
                    assert!((8..=18).contains(&local.hour()), "{local}");
                    input.occurred_at
                }
                Command::Rating { source, input } => {
                    assert_eq!(source, DEMO_SOURCE);
                    assert_eq!(validate::rating_shape(input, now), Ok(()));
                    assert!(event_ids.insert(input.event_id.clone()));
                    let act = acts.get(&(input.project_no.as_str(), input.service_number));
                    let Some(act) = act else {
                        panic!("rating before its service act: {input:?}");
                    };
                    assert!(act.occurred_at < input.rated_at);
                    assert_eq!(
                        (&act.window, &act.staff, &act.task_code),
                        (&input.window, &input.staff, &input.task_code)
                    );
                    let key = (
                        input.project_no.as_str(),
                        input.service_number,
                        input.assess_number,
                    );
                    assert!(slots.insert(key, input).is_none(), "duplicate {key:?}");
                    if input.assess_number == 2 {
                        let first =
                            slots.get(&(input.project_no.as_str(), input.service_number, 1));
                        assert!(first.is_some_and(
                            |first| first.level.is_bad() && first.rated_at < input.rated_at
                        ));
                    }
                    if input.channel == Channel::SystemDefault {
                        assert_eq!(input.level, Level::Satisfied);
                        assert!(
                            input.text.is_none()
                                && input.indicators.is_empty()
                                && !input.evaluator.real_name
                        );
                        assert!(
                            input.rated_at >= act.occurred_at + Duration::days(DEFAULT_AFTER_DAYS)
                        );
                    }
                    assert_eq!(input.device.is_some(), input.channel == Channel::HallDevice);
                    if input.evaluator.real_name {
                        let id = input.evaluator.id_number.as_deref().unwrap_or_default();
                        assert!(id.len() == 18 && id.starts_with("41"), "{id}");
                        let phone = input.evaluator.phone.as_deref().unwrap_or_default();
                        assert!(phone.len() == 11 && ["13", "15", "18"].contains(&&phone[..2]));
                        assert!(input.evaluator.name.is_some());
                    } else {
                        assert!(
                            input.evaluator.name.is_none()
                                && input.evaluator.phone.is_none()
                                && input.evaluator.id_number.is_none()
                        );
                    }
                    input.rated_at
                }
                other => panic!("unexpected {other:?}"),
            };
            assert!(at >= last && at <= now);
            last = at;
        }

        // Volume: 8 working days (the 10 days end on a Wednesday) of about 300 acts.
        assert!(
            (1800..=3000).contains(&services.len()),
            "{}",
            services.len()
        );
        let first: Vec<&&RatingInput> = ratings
            .iter()
            .filter(|rating| rating.assess_number == 1)
            .collect();
        let rated = share(first.len(), services.len());
        assert!((0.85..0.97).contains(&rated), "rated {rated}");

        // Mixes.
        let active: Vec<&&&RatingInput> = first
            .iter()
            .filter(|rating| !rating.channel.is_default())
            .collect();
        let channel = |channel| {
            share(
                active
                    .iter()
                    .filter(|rating| rating.channel == channel)
                    .count(),
                active.len(),
            )
        };
        assert!(
            (0.48..0.66).contains(&channel(Channel::HallDevice)),
            "{}",
            channel(Channel::HallDevice)
        );
        assert!((0.09..0.22).contains(&channel(Channel::QrCode)));
        assert!((0.07..0.18).contains(&channel(Channel::Mobile)));
        assert!(
            first
                .iter()
                .any(|rating| rating.channel == Channel::SystemDefault)
        );
        let level = |level| {
            share(
                first.iter().filter(|rating| rating.level == level).count(),
                first.len(),
            )
        };
        assert!(
            (0.70..0.86).contains(&level(Level::VerySatisfied)),
            "{}",
            level(Level::VerySatisfied)
        );
        assert!((0.10..0.20).contains(&level(Level::Satisfied)));
        let bad = share(
            first.iter().filter(|rating| rating.level.is_bad()).count(),
            first.len(),
        );
        assert!((0.015..0.07).contains(&bad), "bad {bad}");
        let real = share(
            active
                .iter()
                .filter(|rating| rating.evaluator.real_name)
                .count(),
            active.len(),
        );
        assert!((0.22..0.42).contains(&real), "real name {real}");
        let companies = share(
            active
                .iter()
                .filter(|rating| {
                    rating.evaluator.applicant_type == ApplicantType::EnterpriseLegalPerson
                })
                .count(),
            active.len(),
        );
        assert!((0.03..0.3).contains(&companies), "companies {companies}");

        // Every 差评 has detail; problem windows stand out.
        assert!(
            ratings
                .iter()
                .filter(|rating| rating.level.is_bad())
                .all(|rating| {
                    !rating.indicators.is_empty()
                        || rating
                            .text
                            .as_deref()
                            .is_some_and(|text| !text.trim().is_empty())
                })
        );
        let bad_rate = |window: &str| {
            let at: Vec<_> = first
                .iter()
                .filter(|rating| rating.window.as_deref() == Some(window))
                .collect();
            share(
                at.iter().filter(|rating| rating.level.is_bad()).count(),
                at.len(),
            )
        };
        assert!(
            bad_rate(DEMO_STAFF_WINDOW) > 2.0 * bad,
            "{}",
            bad_rate(DEMO_STAFF_WINDOW)
        );
        // Multi-act cases exist, numbered from 1 without gaps.
        assert!(services.iter().any(|service| service.service_number == 3));
        assert!(services.iter().all(|service| {
            service.service_number == 1
                || acts.contains_key(&(service.project_no.as_str(), service.service_number - 1))
        }));
    }

    #[test]
    fn history_is_deterministic_and_lazy() {
        let now = now();
        let first: Vec<String> = Simulator::new(city(), 42)
            .history(now, 5, 100)
            .map(|command| format!("{command:?}"))
            .collect();
        let again: Vec<String> = Simulator::new(city(), 42)
            .history(now, 5, 100)
            .map(|command| format!("{command:?}"))
            .collect();
        let other: Vec<String> = Simulator::new(city(), 43)
            .history(now, 5, 100)
            .map(|command| format!("{command:?}"))
            .collect();
        assert!(!first.is_empty());
        assert_eq!(first, again);
        assert_ne!(first, other);
        let mut simulator = Simulator::new(city(), 1);
        assert_eq!(simulator.history(now, 0, 100).count(), 0);
        assert_eq!(simulator.history(now, 3650, 100).take(10).count(), 10);
    }

    #[test]
    fn live_traffic_is_a_service_then_its_rating() {
        let now = now();
        let mut simulator = Simulator::new(city(), 9);
        let commands = simulator.live(now, 6);
        assert_eq!(commands.len(), 6);
        for pair in commands.chunks(2) {
            let [
                Command::Service { input: service, .. },
                Command::Rating { input: rating, .. },
            ] = pair
            else {
                panic!("unexpected {pair:?}");
            };
            assert_eq!(
                (&service.project_no, service.service_number),
                (&rating.project_no, rating.service_number)
            );
            assert_eq!(validate::service_shape(service, now), Ok(()));
            assert_eq!(validate::rating_shape(rating, now), Ok(()));
            assert!(service.occurred_at < rating.rated_at && rating.rated_at <= now);
        }
        let history: HashSet<String> = simulator
            .history(now, 2, 200)
            .filter_map(|command| match command {
                Command::Service { input, .. } => Some(input.project_no),
                _ => None,
            })
            .collect();
        assert!(
            services(&commands)
                .iter()
                .all(|service| !history.contains(&service.project_no))
        );
        // Later ticks, and a second simulator started later (another seed, as the server's live
        // loop uses, or a restart), never reuse a project number.
        let mut other = Simulator::new(city(), 10);
        let mut seen: HashSet<String> = services(&commands)
            .iter()
            .map(|service| service.project_no.clone())
            .collect();
        for tick in 1..60 {
            let at = now + Duration::seconds(tick);
            let simulator = if tick < 30 {
                &mut simulator
            } else {
                &mut other
            };
            for command in simulator.live(at, 3000) {
                if let Command::Service { input, .. } = command {
                    assert!(seen.insert(input.project_no), "reused at tick {tick}");
                }
            }
        }
    }

    /// The real store accepts everything: master data in order, the demo source, the users and
    /// a short history.
    #[test]
    fn the_store_records_the_demo() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("no temporary directory");
        };
        let now = now();
        let store = Store::open(
            dir.path(),
            PiiKey::from_bytes([7; 32]),
            Arc::new(ManualClock::new(now)),
            StoreOptions::default(),
        );
        let Ok(store) = store else {
            panic!("cannot open store: {:?}", store.err());
        };
        let city = city();
        let mut commands: Vec<Command> = city
            .master
            .iter()
            .cloned()
            .chain([MasterChange::Source(Source {
                id: DEMO_SOURCE.into(),
                name: "演示".into(),
                adapter: "canonical".into(),
                scope: CITY_CODE.into(),
                key_hash: api_key_hash("hcpk_demo"),
                disabled: false,
                kind: Default::default(),
                expected: false,
            })])
            .chain(users("$argon2id$x").into_iter().map(MasterChange::User))
            .map(|change| Command::Master {
                actor: "demo".into(),
                change,
            })
            .collect();
        let mut simulator = Simulator::new(city, 3);
        commands.extend(simulator.history(now, 10, 60));
        commands.extend(simulator.live(now, 4));
        let count = commands.len();
        let outcomes = store.submit(commands);
        let Ok(outcomes) = outcomes else {
            panic!("store error: {:?}", outcomes.err());
        };
        assert_eq!(outcomes.len(), count);
        let rejected: Vec<&Outcome> = outcomes
            .iter()
            .filter(|outcome| !matches!(outcome, Outcome::Recorded { .. }))
            .collect();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(store.close().ok(), Some(()));
    }
}
