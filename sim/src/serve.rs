//! Serve (in progress).
pub struct ServedCluster;
pub fn serve() {}
