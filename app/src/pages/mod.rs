//! The console's pages.

mod dashboard;
mod error_page;
mod not_found;
mod unbuilt;

pub use dashboard::Dashboard;
pub use error_page::ErrorPage;
pub use not_found::NotFound;
pub use unbuilt::Unbuilt;
