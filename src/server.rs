//! warp routes and the hardened accept loop (stub)
