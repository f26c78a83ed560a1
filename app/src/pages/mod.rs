//! The console's pages.

mod dashboard;
mod not_found;
mod unbuilt;

pub use dashboard::Dashboard;
pub use not_found::NotFound;
pub use unbuilt::Unbuilt;
