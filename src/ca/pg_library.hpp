// libpq, loaded when a PostgreSQL database is first used (dlopen of libpq.so.5), not linked:
// a home on SQLite, and every one-shot command of one, does not pay for loading libpq and the
// Kerberos, LDAP and SASL libraries it brings (about 4 ms a process here).
#pragma once

#include <libpq-fe.h>

#include "common/result.hpp"

namespace hwca::ca::pg {

// The functions hwca calls, one pointer each, of the types libpq-fe.h declares.
// clang-format off
#define HWCA_LIBPQ_FUNCTIONS(X) \
  X(PQclear) \
  X(PQcmdTuples) \
  X(PQconnectdbParams) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQerrorMessage) \
  X(PQexec) \
  X(PQexecParams) \
  X(PQexecPrepared) \
  X(PQfinish) \
  X(PQfreemem) \
  X(PQgetisnull) \
  X(PQgetlength) \
  X(PQgetvalue) \
  X(PQntuples) \
  X(PQprepare) \
  X(PQreset) \
  X(PQresultErrorField) \
  X(PQresultStatus) \
  X(PQsetNoticeProcessor) \
  X(PQsocket) \
  X(PQstatus) \
  X(PQunescapeBytea)
// clang-format on

struct Libpq {
#define HWCA_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  HWCA_LIBPQ_FUNCTIONS(HWCA_LIBPQ_MEMBER)
#undef HWCA_LIBPQ_MEMBER
};

// libpq, loaded on the first call; not_found (saying what to install) if it cannot be.
Result<const Libpq*> libpq();

}  // namespace hwca::ca::pg
