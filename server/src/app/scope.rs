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
//! - a user account is in scope by the scope it is given (and, for window staff, by the staff
//!   record it is linked to); an ingest source by the scope it submits for;
//! - a frozen assessment run is seen by those within its scope and by those above it; window
//!   staff see only their own line of it ([`Scope::run_as_seen`]);
//! - what a role may do at all is a [`Role`] matter ([`ensure_role`]), asked before the object.
//!
//! Writes ask more than reads:
//! - whatever a write names or moves (a user's scope and staff record, a source's scope, an org
//!   unit's old and new place, the department of a window, the window of a device, a rules
//!   county) must lie within the caller's scope ([`Scope::ensure_reference`]); a reference the
//!   store does not know is left to the store, which names it (422);
//! - the platform's own `system` source is never issued a key through the API, and the bootstrap
//!   `admin` account is managed from the root only;
//! - city-wide acts (sweeps, the manual clock, the uplink, adapters, device models, rollbacks of
//!   the whole rules folder) need a principal whose scope is the root of the org tree
//!   ([`Scope::ensure_city`]);
//! - an assessment run is frozen (published) only by its scope's owner: a supervisor or
//!   administrator whose scope *is* the run's scope, or one scoped to the root, who owns every
//!   scope ([`Scope::ensure_run_owner`]).

use hcp_core::assessment::AssessmentRun;
use hcp_core::auth::{Principal, Role, Source, User};
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
    /// A user account, by its scope and (window staff) its staff record.
    User(&'a User),
    /// An ingest source, by the scope it submits for.
    Source(&'a Source),
    /// A frozen assessment run, by its scope: seen from within and from above.
    Run(&'a AssessmentRun),
    /// The rules of a county (a folder of the rules, by its 6-digit code): seen by those whose
    /// scope lies within it or above it.
    RulesCounty(&'a str),
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

scoped!(
    Rating => Rating, Order => Order, Case => Case, ServiceCall => Call, Problem => Problem,
    Message => Message, User => User, Source => Source, AssessmentRun => Run,
);

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
            Target::User(_) | Target::Source(_) if window_staff => false,
            Target::User(user) => {
                under(Dim::Region, &user.scope)?
                    && match &user.staff_id {
                        Some(staff) => under(Dim::Staff, staff)?,
                        None => true,
                    }
            }
            Target::Source(source) => under(Dim::Region, &source.scope)?,
            Target::Run(run) => {
                under(Dim::Region, &run.scope)?
                    || store.within(Dim::Region, &principal.scope, &run.scope)?
            }
            Target::RulesCounty(county) => {
                under(Dim::Region, county)?
                    || store.within(Dim::Region, &principal.scope, county)?
                    || self.at_root(principal)?
            }
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

impl Scope<'_> {
    /// Whether the principal's scope is the root of the org tree (the city): the unit without a
    /// parent. Blocking.
    pub fn at_root(&self, principal: &Principal) -> Result<bool, AppError> {
        Ok(self
            .store
            .org_unit(&principal.scope)?
            .is_some_and(|unit| unit.parent.is_none()))
    }

    /// A city-wide act (a sweep, the manual clock, the uplink, an adapter, a device model, a
    /// rollback of the whole rules folder): one of `roles`, scoped to the root of the org tree;
    /// `Forbidden` saying so otherwise. Blocking.
    pub fn ensure_city(
        &self,
        principal: &Principal,
        roles: &[Role],
        what: &str,
    ) -> Result<(), AppError> {
        ensure_role(principal, roles, what)?;
        if self.at_root(principal)? {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{what}: a city-wide act, for an account scoped to the root of the org tree; yours is \
             scoped to {}",
            principal.scope
        )))
    }

    /// Something a write names (`what`, e.g. `scope` or `parent`) by its id in `dim`: `Forbidden`
    /// when it exists and lies outside the caller's scope. An id the store does not know passes:
    /// the store refuses it with its own reason (an unknown reference, 422). Blocking.
    pub fn ensure_reference(
        &self,
        principal: &Principal,
        what: &str,
        dim: Dim,
        id: &str,
    ) -> Result<(), AppError> {
        let chain = self.store.ancestors(dim, id)?;
        if chain.is_empty() || chain.contains(&principal.scope) {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{what} {id} lies outside your scope {}",
            principal.scope
        )))
    }

    /// An object a write replaces (a user, a source, master data already recorded): `Forbidden`
    /// when it lies outside the caller's scope, so nothing outside it is overwritten by reusing
    /// its name. Blocking.
    pub fn ensure_replaceable(
        &self,
        principal: &Principal,
        target: Target<'_>,
        what: impl std::fmt::Display,
    ) -> Result<(), AppError> {
        if self.sees(principal, target)? {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{what} is managed outside your scope {}",
            principal.scope
        )))
    }

    /// A user account an administrator creates or replaces: the account it replaces and the new
    /// one lie within the administrator's scope (its scope and its staff record), so no account
    /// gets a reach wider than its maker's; the bootstrap administrator is the root's to manage.
    /// Blocking.
    pub fn ensure_manages_user(
        &self,
        actor: &Principal,
        existing: Option<&User>,
        username: &str,
        scope: &str,
        staff_id: Option<&str>,
    ) -> Result<(), AppError> {
        if username == crate::app::platform::BOOTSTRAP_ADMIN {
            self.ensure_city(
                actor,
                &[Role::Admin],
                "the bootstrap administrator is managed from the root",
            )?;
        }
        if let Some(existing) = existing {
            self.ensure_replaceable(
                actor,
                Target::User(existing),
                format_args!("user {}", existing.username),
            )?;
        }
        self.ensure_reference(actor, "scope", Dim::Region, scope)?;
        if let Some(staff) = staff_id {
            self.ensure_reference(actor, "staff", Dim::Staff, staff)?;
        }
        Ok(())
    }

    /// A source an administrator creates or re-keys: never the platform's own `system` source
    /// (whoever held its key could submit as the platform: default ratings, phone and SMS
    /// ratings); the source it replaces and its new scope within the administrator's. Blocking.
    pub fn ensure_manages_source(
        &self,
        actor: &Principal,
        existing: Option<&Source>,
        id: &str,
        scope: &str,
    ) -> Result<(), AppError> {
        if id == crate::app::outreach::SYSTEM_SOURCE {
            return Err(AppError::Forbidden(
                "the system source is the platform's own: it is never issued a key".into(),
            ));
        }
        if let Some(existing) = existing {
            self.ensure_replaceable(
                actor,
                Target::Source(existing),
                format_args!("source {}", existing.id),
            )?;
        }
        self.ensure_reference(actor, "scope", Dim::Region, scope)
    }

    /// A change of an org unit: the unit as it stands lies within the caller's scope, and so do
    /// its new parent and department, so that nothing moves into or out of the caller's
    /// subtree. The unit a scope is rooted at keeps its parent (it may be renamed); a unit
    /// without a parent is the root's to make. Blocking.
    pub fn ensure_org_change(
        &self,
        actor: &Principal,
        unit: &hcp_core::model::OrgUnit,
    ) -> Result<(), AppError> {
        let existing = self.store.org_unit(&unit.id)?;
        if existing.is_some() {
            self.ensure_reference(actor, "org unit", Dim::Region, &unit.id)?;
        }
        let stays = existing
            .as_ref()
            .is_some_and(|existing| existing.parent == unit.parent);
        match &unit.parent {
            _ if unit.id == actor.scope && stays => {}
            Some(parent) if unit.id == actor.scope => {
                return Err(AppError::Forbidden(format!(
                    "{} is the root of your scope: it cannot move under {parent}",
                    unit.id
                )));
            }
            Some(parent) => self.ensure_reference(actor, "parent", Dim::Region, parent)?,
            None => {
                self.ensure_city(
                    actor,
                    &[Role::Admin],
                    "a unit without a parent is the root of the org tree",
                )?;
            }
        }
        if let Some(department) = &unit.department {
            self.ensure_reference(actor, "department", Dim::Region, department)?;
        }
        Ok(())
    }

    /// A frozen (published) run of `scope` is recorded only by its owner: a supervisor or
    /// administrator whose scope is `scope` itself, or one scoped to the root of the org tree.
    /// A wider scope below the root does not own a narrower one, nor a narrower a wider: each
    /// region publishes its own. Blocking.
    pub fn ensure_run_owner(&self, principal: &Principal, scope: &str) -> Result<(), AppError> {
        ensure_role(
            principal,
            &[Role::Supervisor, Role::Admin],
            "assessments are published by supervisors and administrators",
        )?;
        if principal.scope == scope || self.at_root(principal)? {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "a run of {scope} is published by its owner (a supervisor or administrator scoped to \
             {scope}, or to the root of the org tree); yours is scoped to {}",
            principal.scope
        )))
    }

    /// A frozen run as `principal` may read it: whole, but window staff see only their own line.
    pub fn run_as_seen(&self, principal: &Principal, mut run: AssessmentRun) -> AssessmentRun {
        if principal.role == Role::WindowStaff {
            run.units.retain(|assessed| {
                principal.staff_id.as_deref() == Some(assessed.unit.as_str())
                    && run.unit_kind == "staff"
            });
        }
        run
    }

    /// The rules of a county that a rollback rewrites: the county lies within the caller's
    /// scope (a county's editor rolls back only their county; the root's, any); `county` names
    /// a county's folder (six digits). Blocking.
    pub fn ensure_rules_county(&self, principal: &Principal, county: &str) -> Result<(), AppError> {
        if county.len() != 6 || !county.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(AppError::invalid_field(
                "county",
                format!("{county:?} is not a county code (six digits)"),
            ));
        }
        if self.at_root(principal)? || self.store.within(Dim::Region, county, &principal.scope)? {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "the rules of {county} lie outside your scope {}",
            principal.scope
        )))
    }
}

/// The roles that may do `what` at all; `Forbidden` with `what` for any other. Asked before the
/// object (whose scope [`Scope`] then decides).
/// The dimension figures of `unit` are filed under when a request names none: a region's by
/// region, a hall's by hall, a department's by department, a window's by window (so that a
/// department handler's own scope reads its department's figures). Blocking.
pub fn default_dim(store: &Store, unit: &str) -> Result<Dim, AppError> {
    use hcp_core::model::OrgKind;
    Ok(match store.org_unit(unit)?.map(|unit| unit.kind) {
        Some(OrgKind::Hall | OrgKind::ServicePoint) => Dim::Hall,
        Some(OrgKind::Department) => Dim::Department,
        Some(OrgKind::Window) => Dim::Window,
        _ => Dim::Region,
    })
}

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
