//! The one scope guard: may this principal do this to this object. Every read and write of the
//! API goes through here; nowhere else says who sees what.
//!
//! The rules:
//! - a principal's scope is a subtree of the org tree (a region, hall, department or window):
//!   a unit, item or staff member is in scope when it lies under it;
//! - window staff see only what is filed under their own staff record, and today's ratings
//!   only from tomorrow (`Role::sees_live_ratings`);
//! - a rating is in scope by any of the units it is filed under (its regions, department,
//!   window); a work order by its regions, its responsible unit or its department; a case (and
//!   its service acts, messages and call-backs) by its region or department; a systemic problem
//!   by its region or the department that owns it;
//! - what a role may do at all is a [`Role`] matter ([`ensure_role`]), asked before the object.

use hcp_core::auth::{Principal, Role};
use hcp_core::model::{Case, Rating};
use hcp_core::outreach::{Message, ServiceCall};
use hcp_core::store::{Dim, Store};
use hcp_core::workflow::{Order, Problem};

use crate::app::AppError;

/// What the guard is asked about.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// A unit of the org tree, a service item or a staff member, by its dimension.
    Unit(Dim, &'a str),
    Rating(&'a Rating),
    Order(&'a Order),
    Case(&'a Case),
    /// A service act on the call list of unrated services.
    Call(&'a ServiceCall),
    Problem(&'a Problem),
    /// An outbound message: in scope by the case or order it is about; anything else is the
    /// administrators'.
    Message(&'a Message),
}

/// An object the guard decides on by itself.
pub trait Scoped {
    fn target(&self) -> Target<'_>;
}

macro_rules! scoped {
    ($($type:ty => $variant:ident),* $(,)?) => {
        $(impl Scoped for $type {
            fn target(&self) -> Target<'_> {
                Target::$variant(self)
            }
        })*
    };
}

scoped!(Rating => Rating, Order => Order, Case => Case, ServiceCall => Call, Problem => Problem, Message => Message);

/// The guard over one store.
pub struct Scope<'a> {
    store: &'a Store,
}

impl<'a> Scope<'a> {
    pub fn new(store: &'a Store) -> Scope<'a> {
        Scope { store }
    }

    /// Whether `principal` may see `target`. Blocking.
    pub fn sees(&self, principal: &Principal, target: Target<'_>) -> Result<bool, AppError> {
        let store = self.store;
        let own_staff = |staff: &Option<String>| staff.is_some() && *staff == principal.staff_id;
        let under = |dim: Dim, unit: &str| -> Result<bool, AppError> {
            Ok(store.within(dim, unit, &principal.scope)?)
        };
        let window_staff = principal.role == Role::WindowStaff;
        Ok(match target {
            Target::Unit(dim, unit) if window_staff => {
                dim == Dim::Staff && principal.staff_id.as_deref() == Some(unit)
            }
            Target::Unit(dim, unit) => under(dim, unit)?,
            Target::Rating(rating) if window_staff => own_staff(&rating.attribution.staff),
            Target::Rating(rating) => {
                let attribution = &rating.attribution;
                attribution.regions.contains(&principal.scope)
                    || under(Dim::Department, &attribution.department)?
                    || match &attribution.window {
                        Some(window) => under(Dim::Window, window)?,
                        None => false,
                    }
            }
            Target::Order(order) if window_staff => own_staff(&order.staff),
            Target::Order(order) => {
                order.regions.contains(&principal.scope)
                    || under(Dim::Region, &order.unit)?
                    || under(Dim::Region, &order.department)?
            }
            Target::Case(_) | Target::Call(_) | Target::Problem(_) if window_staff => false,
            Target::Case(case) => {
                under(Dim::Region, &case.area_code)? || under(Dim::Department, &case.department)?
            }
            Target::Call(call) => call.regions.contains(&principal.scope),
            Target::Problem(_) if principal.role == Role::RuleEditor => false,
            Target::Problem(problem) => {
                under(Dim::Region, &problem.region)? || under(Dim::Department, &problem.owner)?
            }
            Target::Message(message) => self.sees_message(principal, message)?,
        })
    }

    fn sees_message(&self, principal: &Principal, message: &Message) -> Result<bool, AppError> {
        if let Some((project_no, _)) = hcp_core::outreach::act_of_subject(&message.subject) {
            return match self.store.case(project_no)? {
                Some(case) => self.sees(principal, Target::Case(&case)),
                None => Ok(principal.role == Role::Admin),
            };
        }
        if let Some(id) = message
            .subject
            .strip_prefix("order:")
            .and_then(|id| id.parse::<u64>().ok())
        {
            return match self.store.order(id)? {
                Some(order) => self.sees(principal, Target::Order(&order)),
                None => Ok(principal.role == Role::Admin),
            };
        }
        Ok(principal.role == Role::Admin)
    }

    /// A unit the caller names (a query's `unit`, a report's scope): `Forbidden` outside the
    /// caller's scope. Blocking.
    pub fn ensure_unit(&self, principal: &Principal, dim: Dim, unit: &str) -> Result<(), AppError> {
        if self.sees(principal, Target::Unit(dim, unit))? {
            return Ok(());
        }
        Err(AppError::Forbidden(
            if principal.role == Role::WindowStaff {
                "window staff see their own results only".into()
            } else {
                format!("{unit} lies outside your scope {}", principal.scope)
            },
        ))
    }

    /// An object the caller asked for by id: `NotFound` ("no {what} within your scope") when it
    /// is absent or out of scope, so that ids outside a scope cannot be probed. Blocking.
    pub fn found<T: Scoped>(
        &self,
        principal: &Principal,
        object: Option<T>,
        what: impl std::fmt::Display,
    ) -> Result<T, AppError> {
        match object {
            Some(object) if self.sees(principal, object.target())? => Ok(object),
            _ => Err(AppError::NotFound(format!("no {what} within your scope"))),
        }
    }
}

/// The roles that may do `what` at all; `Forbidden` with `what` for any other. Asked before the
/// object (whose scope [`Scope`] then decides).
pub fn ensure_role(principal: &Principal, roles: &[Role], what: &str) -> Result<(), AppError> {
    if roles.contains(&principal.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(what.to_string()))
    }
}

impl crate::app::Platform {
    /// The scope guard over this platform's store.
    pub fn scope(&self) -> Scope<'_> {
        Scope::new(&self.store)
    }
}
