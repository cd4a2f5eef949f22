#include "wabactl/configs.hpp"
#include "wabactl/secrets.hpp"
#include "wabactl/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace wabactl {

std::size_t rotate_master_key(Store& store, const MasterKey& old_key, const MasterKey& new_key) {
  // Every sealed column in the schema, with the field name its associated data uses.
  struct Column {
    const char* column;
    const char* field;
  };
  static constexpr Column sealed[] = {
      {"api_key", field_access_token},
      {"api_secret", field_app_secret},
      {"verify_token", field_verify_token},
  };
  std::size_t count = 0;
  store.transaction([&] {
    for (const auto& col : sealed) {
      SQLite::Statement q(store.db(), fmt::format("SELECT tenant_id, {} FROM whatsapp_configs "
                                                  "WHERE {} IS NOT NULL",
                                                  col.column, col.column));
      std::vector<std::pair<std::string, std::vector<unsigned char>>> rows;
      while (q.executeStep()) {
        const auto* p = static_cast<const unsigned char*>(q.getColumn(1).getBlob());
        rows.emplace_back(q.getColumn(0).getString(),
                          std::vector<unsigned char>(p, p + q.getColumn(1).getBytes()));
      }
      SQLite::Statement u(store.db(), fmt::format("UPDATE whatsapp_configs SET {} = ? "
                                                  "WHERE tenant_id = ?",
                                                  col.column));
      for (const auto& [tenant, blob] : rows) {
        std::string plain = open_sealed(old_key, blob, tenant, col.field);
        auto resealed = seal(new_key, plain, tenant, col.field);
        u.bind(1, resealed.data(), static_cast<int>(resealed.size()));
        u.bind(2, tenant);
        u.exec();
        u.reset();
        ++count;
      }
    }
    write_key_check(store, new_key);
  });
  return count;
}

} // namespace wabactl
