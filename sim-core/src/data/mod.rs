//! Where data lives, as pure logic the data models build on: which shard
//! holds a key (`sharding`) and which keys a workload touches (`keys`).

pub mod keys;
pub mod sharding;
