//! The console's pages.

mod audit;
mod dashboard;
mod error_page;
mod forbidden;
mod not_found;
mod policies;
mod review;
mod reviews;
mod rule_editor;
mod rules;
// A form's server function takes each field as an argument (the Athena
// source's form has 14), in the browser's build too, where the `server`
// macro writes the function anew without the lint attributes it is given.
#[allow(clippy::too_many_arguments)]
pub(crate) mod settings;
mod sign_in;
pub(crate) mod traffic;
mod vpn;

pub use audit::{Audit, LoadAudit};
pub use dashboard::{Dashboard, LoadOverview};
pub use error_page::ErrorPage;
pub use forbidden::Forbidden;
pub use not_found::NotFound;
pub use policies::{DeleteMapping, LoadDraft, LoadPolicies, Policies, SaveMapping, TokenGroups};
pub use review::{LoadReview, Review, Step, TakeStep};
pub use reviews::{LoadReviews, Reviews};
pub use rule_editor::{DiscardDraft, SaveDraft};
pub use rules::{LoadRules, Rules};
pub use settings::{
    AddAthenaSource, AddTarget, LoadSettings, RemoveTarget, SetHealth, SetRoles, Settings,
};
pub use sign_in::{NewPassword, SignIn};
pub use traffic::{LoadTraffic, ProposeRule, Traffic};
pub use vpn::{LoadVpn, SaveVpn, TestVpnIp, VpnCountries};
