#include "store/wal_batch.hpp"

#include "wabactl/error.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace wabactl {
namespace {

// A group commit of 64 deliveries with large bodies stays well inside; past it, what waits
// goes to the file first.
constexpr int buffer_capacity = 1 << 20;

sqlite3_vfs* real_vfs = nullptr;
sqlite3_vfs batch_vfs{};

// What SQLite allocates for a WAL file opened through this VFS: this header, then the
// default VFS's own file.
struct WalFile {
  sqlite3_file base; // pMethods is &wal_methods
  sqlite3_file* real;
  unsigned char* buffer; // allocated on the first write
  int used;              // bytes waiting in buffer
  sqlite3_int64 start;   // the file offset of buffer[0]
};

constexpr std::size_t header_size = (sizeof(WalFile) + 15) & ~std::size_t{15};

WalFile* wal(sqlite3_file* file) {
  return reinterpret_cast<WalFile*>(file);
}
sqlite3_file* real(sqlite3_file* file) {
  return wal(file)->real;
}

// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the length, as SQLite
// itself never writes more than a page): larger flushes go in pieces.
constexpr int max_piece = 120 * 1024;

int flush(WalFile* f) {
  int rc = SQLITE_OK;
  for (int done = 0; done < f->used && rc == SQLITE_OK; done += max_piece) {
    int piece = std::min(max_piece, f->used - done);
    rc = f->real->pMethods->xWrite(f->real, f->buffer + done, piece, f->start + done);
  }
  f->used = 0;
  return rc;
}

int wal_close(sqlite3_file* file) {
  auto* f = wal(file);
  int rc = flush(f);
  int close_rc = f->real->pMethods->xClose(f->real);
  std::free(f->buffer);
  f->buffer = nullptr;
  return rc != SQLITE_OK ? rc : close_rc;
}

int wal_read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  int rc = flush(wal(file));
  if (rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xRead(real(file), data, amount, offset);
}

int wal_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto* f = wal(file);
  // Only appends to what is waiting join it; anything else keeps the order of the writes.
  if (f->used > 0 && (offset != f->start + f->used || amount > buffer_capacity - f->used)) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
  }
  if (f->buffer == nullptr && amount <= max_piece) {
    f->buffer = static_cast<unsigned char*>(std::malloc(buffer_capacity));
  }
  if (f->buffer == nullptr || amount > max_piece) {
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  if (f->used == 0) f->start = offset;
  std::memcpy(f->buffer + f->used, data, static_cast<std::size_t>(amount));
  f->used += amount;
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  int rc = flush(wal(file));
  if (rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xTruncate(real(file), size);
}

int wal_sync(sqlite3_file* file, int flags) {
  int rc = flush(wal(file));
  if (rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xSync(real(file), flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  int rc = flush(wal(file));
  if (rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xFileSize(real(file), size);
}

int wal_lock(sqlite3_file* file, int level) {
  return real(file)->pMethods->xLock(real(file), level);
}
int wal_unlock(sqlite3_file* file, int level) {
  return real(file)->pMethods->xUnlock(real(file), level);
}
int wal_check_reserved_lock(sqlite3_file* file, int* out) {
  return real(file)->pMethods->xCheckReservedLock(real(file), out);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  // Size hints and the like act on the file: it gets what is waiting first.
  int rc = flush(wal(file));
  if (rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xFileControl(real(file), op, arg);
}

int wal_sector_size(sqlite3_file* file) {
  return real(file)->pMethods->xSectorSize(real(file));
}
int wal_device_characteristics(sqlite3_file* file) {
  return real(file)->pMethods->xDeviceCharacteristics(real(file));
}

// Version 1: SQLite maps shared memory and pages through the database file, never the WAL.
const sqlite3_io_methods wal_methods = {
    1,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int batch_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  // Every other file is the default VFS's file, in place: its methods, no extra step.
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    return real_vfs->xOpen(real_vfs, name, file, flags, out_flags);
  }
  auto* f = wal(file);
  std::memset(f, 0, sizeof(WalFile));
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + header_size);
  int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  f->base.pMethods = &wal_methods;
  return SQLITE_OK;
}

} // namespace

const char* batched_wal_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    real_vfs = sqlite3_vfs_find(nullptr);
    if (real_vfs == nullptr) {
      throw Error(Exit::internal, "SQLite has no default VFS to write the WAL through");
    }
    // Everything but opening files is the default VFS's, with its own app data.
    batch_vfs = *real_vfs;
    batch_vfs.pNext = nullptr;
    batch_vfs.zName = "wabactl-batched-wal";
    batch_vfs.szOsFile = static_cast<int>(header_size) + real_vfs->szOsFile;
    batch_vfs.xOpen = batch_open;
    if (sqlite3_vfs_register(&batch_vfs, 0) != SQLITE_OK) {
      throw Error(Exit::internal, "registering SQLite's batched WAL VFS failed");
    }
  });
  return batch_vfs.zName;
}

} // namespace wabactl
