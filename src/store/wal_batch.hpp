#pragma once
// A SQLite VFS that gathers a connection's writes to its WAL file and hands them to the
// kernel in one pwrite when SQLite syncs, reads, truncates or sizes that file. SQLite
// writes each frame as two pwrites (a 24-byte header, then the page): a webhook group
// commit of ~30 frames made ~60 system calls. Every other file (the database, its -shm)
// is the default VFS's own file, untouched.
//
// It pays beyond the noise: bench/writer.sh's store path, this VFS vs SQLite's own, four
// alternating pairs on one 2-core machine (2026-12-02): 37.9-44.0 vs 45.2-47.1 us CPU and
// 71.8-82.0 vs 80.7-85.0 us wall per delivery, each pair won by the VFS.
//
// Only for connections with synchronous=FULL: the sync at each commit is what puts the
// frames in the file before SQLite publishes them to readers in the -shm index. With a
// lower setting a reader could look for frames still in the buffer.

namespace wabactl {

/// The name of the batching VFS, registered with SQLite (not as the default) on first call.
/// Thread-safe. Throws Error when SQLite has no default VFS to wrap.
const char* batched_wal_vfs();

} // namespace wabactl
