//! Code tables of the national and provincial interfaces, as methods of the contract's enums:
//! wire formats carry codes, the contract carries enums, and the mapping happens here, once.
//! Level codes run in opposite directions in the wild, so each order has its own pair of
//! functions and none is called "the" level code.

/// The code tables, as methods of one version's enums: contract 1.0.0 (`crate::types`) and
/// 1.1.0 (`crate::v1_1::types`) have their own generated types with the same cases.
macro_rules! code_tables {
    ($($types:ident)::+) => {
        const _: () = {
            use $($types)::+::{ApplicantType, CaseStatus, Channel, Level};

            impl Level {
                /// All levels, best first.
                pub const ALL: [Level; 5] = [
                    Level::VerySatisfied,
                    Level::Satisfied,
                    Level::BasicallySatisfied,
                    Level::Dissatisfied,
                    Level::VeryDissatisfied,
                ];

                /// The provincial `satisfaction` order, for error messages.
                pub const SATISFACTION_CODES: &'static str = "1=非常不满意 … 5=非常满意";
                /// The GB/T 39046-2020 table A.8 order, for error messages.
                pub const GBT39046_CODES: &'static str = "1=非常满意 … 5=非常不满意";

                /// The provincial 好差评 interfaces' `satisfaction`: 1=非常不满意 … 5=非常满意.
                pub fn from_satisfaction(code: u8) -> Option<Level> {
                    match code {
                        1 => Some(Level::VeryDissatisfied),
                        2 => Some(Level::Dissatisfied),
                        3 => Some(Level::BasicallySatisfied),
                        4 => Some(Level::Satisfied),
                        5 => Some(Level::VerySatisfied),
                        _ => None,
                    }
                }

                /// The inverse of [`Level::from_satisfaction`].
                pub fn satisfaction(self) -> u8 {
                    6 - self.gbt39046()
                }

                /// GB/T 39046-2020 table A.8: 1=非常满意 … 5=非常不满意.
                pub fn from_gbt39046(code: u8) -> Option<Level> {
                    match code {
                        1 => Some(Level::VerySatisfied),
                        2 => Some(Level::Satisfied),
                        3 => Some(Level::BasicallySatisfied),
                        4 => Some(Level::Dissatisfied),
                        5 => Some(Level::VeryDissatisfied),
                        _ => None,
                    }
                }

                /// The inverse of [`Level::from_gbt39046`].
                pub fn gbt39046(self) -> u8 {
                    match self {
                        Level::VerySatisfied => 1,
                        Level::Satisfied => 2,
                        Level::BasicallySatisfied => 3,
                        Level::Dissatisfied => 4,
                        Level::VeryDissatisfied => 5,
                    }
                }

                /// 不满意 and 非常不满意 are 差评 (bad reviews): they must carry indicators or a comment.
                pub fn is_bad_review(self) -> bool {
                    matches!(self, Level::Dissatisfied | Level::VeryDissatisfied)
                }

                /// The Chinese name of the level.
                pub fn name_zh(self) -> &'static str {
                    match self {
                        Level::VerySatisfied => "非常满意",
                        Level::Satisfied => "满意",
                        Level::BasicallySatisfied => "基本满意",
                        Level::Dissatisfied => "不满意",
                        Level::VeryDissatisfied => "非常不满意",
                    }
                }
            }

            impl Channel {
                /// The national `pf` codes, for error messages.
                pub const NATIONAL_PF_CODES: &'static str =
                    "1 PC, 2 移动端, 3 二维码, 4 大厅平板, 5 大厅其他终端, 6 电话, 7 短信";

                /// The national `pf` code: 1 PC, 2 移动端, 3 二维码, 4 大厅平板(评价器), 5 大厅其他终端,
                /// 6 电话, 7 短信. The national variant has no code for 系统默认评价 (the 浙江 variant
                /// uses 7 for it and 6 for 短信), so this never returns [`Channel::SystemDefault`].
                pub fn from_national_pf(code: u8) -> Option<Channel> {
                    match code {
                        1 => Some(Channel::Pc),
                        2 => Some(Channel::Mobile),
                        3 => Some(Channel::QrCode),
                        4 => Some(Channel::HallDevice),
                        5 => Some(Channel::HallTerminal),
                        6 => Some(Channel::Phone),
                        7 => Some(Channel::Sms),
                        _ => None,
                    }
                }

                /// The inverse of [`Channel::from_national_pf`]; `None` for [`Channel::SystemDefault`],
                /// which the national variant cannot express.
                pub fn national_pf(self) -> Option<u8> {
                    match self {
                        Channel::Pc => Some(1),
                        Channel::Mobile => Some(2),
                        Channel::QrCode => Some(3),
                        Channel::HallDevice => Some(4),
                        Channel::HallTerminal => Some(5),
                        Channel::Phone => Some(6),
                        Channel::Sms => Some(7),
                        Channel::SystemDefault => None,
                    }
                }
            }

            impl ApplicantType {
                /// The `userProp` codes, for error messages.
                pub const USER_PROP_CODES: &'static str = "1 自然人, 2 企业法人, 3 事业法人, 4 社会组织法人, \
                     5 非法人企业, 6 行政机关, 9 其他组织";

                /// `userProp`: 1 自然人, 2 企业法人, 3 事业法人, 4 社会组织法人, 5 非法人企业, 6 行政机关,
                /// 9 其他组织.
                pub fn from_user_prop(code: u8) -> Option<ApplicantType> {
                    match code {
                        1 => Some(ApplicantType::NaturalPerson),
                        2 => Some(ApplicantType::EnterpriseLegalPerson),
                        3 => Some(ApplicantType::InstitutionLegalPerson),
                        4 => Some(ApplicantType::SocialOrganisationLegalPerson),
                        5 => Some(ApplicantType::NonLegalPersonEnterprise),
                        6 => Some(ApplicantType::AdministrativeOrgan),
                        9 => Some(ApplicantType::OtherOrganisation),
                        _ => None,
                    }
                }

                /// The inverse of [`ApplicantType::from_user_prop`].
                pub fn user_prop(self) -> u8 {
                    match self {
                        ApplicantType::NaturalPerson => 1,
                        ApplicantType::EnterpriseLegalPerson => 2,
                        ApplicantType::InstitutionLegalPerson => 3,
                        ApplicantType::SocialOrganisationLegalPerson => 4,
                        ApplicantType::NonLegalPersonEnterprise => 5,
                        ApplicantType::AdministrativeOrgan => 6,
                        ApplicantType::OtherOrganisation => 9,
                    }
                }
            }

            impl CaseStatus {
                /// The `proStatus` codes, for error messages.
                pub const PRO_STATUS_CODES: &'static str = "1 待受理, 2 已受理, 3 已办结";

                /// `proStatus`: 1 待受理, 2 已受理, 3 已办结.
                pub fn from_pro_status(code: u8) -> Option<CaseStatus> {
                    match code {
                        1 => Some(CaseStatus::Submitted),
                        2 => Some(CaseStatus::Accepted),
                        3 => Some(CaseStatus::Completed),
                        _ => None,
                    }
                }

                /// The inverse of [`CaseStatus::from_pro_status`].
                pub fn pro_status(self) -> u8 {
                    match self {
                        CaseStatus::Submitted => 1,
                        CaseStatus::Accepted => 2,
                        CaseStatus::Completed => 3,
                    }
                }
            }
        };
    };
}

code_tables!(crate::types);
code_tables!(crate::v1_1::types);

#[cfg(test)]
mod tests {
    use crate::types::{ApplicantType, CaseStatus, Channel, Level};

    #[test]
    fn level_orders_are_opposite() {
        assert_eq!(Level::from_satisfaction(1), Some(Level::VeryDissatisfied));
        assert_eq!(Level::from_satisfaction(5), Some(Level::VerySatisfied));
        assert_eq!(Level::from_gbt39046(1), Some(Level::VerySatisfied));
        assert_eq!(Level::from_gbt39046(5), Some(Level::VeryDissatisfied));
        for level in Level::ALL {
            assert_eq!(Level::from_satisfaction(level.satisfaction()), Some(level));
            assert_eq!(Level::from_gbt39046(level.gbt39046()), Some(level));
            assert_eq!(level.satisfaction() + level.gbt39046(), 6);
        }
        for code in [0, 6, 255] {
            assert_eq!(Level::from_satisfaction(code), None);
            assert_eq!(Level::from_gbt39046(code), None);
        }
    }

    #[test]
    fn contract_1_1_types_have_the_same_tables() {
        use crate::v1_1::types as v1_1;
        for level in v1_1::Level::ALL {
            assert_eq!(
                v1_1::Level::from_satisfaction(level.satisfaction()),
                Some(level)
            );
        }
        assert_eq!(v1_1::Channel::HallDevice.national_pf(), Some(4));
        assert_eq!(v1_1::ApplicantType::OtherOrganisation.user_prop(), 9);
    }

    #[test]
    fn only_the_two_lowest_levels_are_bad_reviews() {
        let bad: Vec<_> = Level::ALL
            .into_iter()
            .filter(|level| level.is_bad_review())
            .map(Level::name_zh)
            .collect();
        assert_eq!(bad, ["不满意", "非常不满意"]);
    }

    #[test]
    fn channel_codes_round_trip_except_system_default() {
        for code in 1..=7 {
            let channel = Channel::from_national_pf(code).unwrap();
            assert_eq!(channel.national_pf(), Some(code));
        }
        assert_eq!(Channel::from_national_pf(8), None);
        assert_eq!(Channel::SystemDefault.national_pf(), None);
    }

    #[test]
    fn applicant_and_case_codes_round_trip() {
        for code in 0..=10 {
            match ApplicantType::from_user_prop(code) {
                Some(applicant) => assert_eq!(applicant.user_prop(), code),
                None => assert!(matches!(code, 0 | 7 | 8 | 10)),
            }
            match CaseStatus::from_pro_status(code) {
                Some(status) => assert_eq!(status.pro_status(), code),
                None => assert!(!(1..=3).contains(&code)),
            }
        }
    }
}
