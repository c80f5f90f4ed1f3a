// "TSS2 PRIVATE KEY" files (draft-bottomley-tpm2-keys, the format tpm2-openssl and
// tpm2-tss-engine read and write): a TPM key's public area and its private blob, which only
// the TPM that made it can load under its parent. Encoded and decoded with OpenSSL ASN.1
// templates; the TPM structures inside with tpm2-tss's marshalling functions.
//
//   TPMKey ::= SEQUENCE {
//     type        OBJECT IDENTIFIER,        -- 2.23.133.10.1.3: a loadable key
//     emptyAuth   [0] EXPLICIT BOOLEAN OPTIONAL,
//     policy      [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
//     secret      [2] EXPLICIT OCTET STRING OPTIONAL,
//     authPolicy  [3] EXPLICIT SEQUENCE OF TPMAuthPolicy OPTIONAL,
//     description [4] EXPLICIT UTF8String OPTIONAL,
//     rsaParent   [5] EXPLICIT BOOLEAN OPTIONAL,
//     parent      INTEGER,
//     pubkey      OCTET STRING,             -- TPM2B_PUBLIC, marshalled
//     privkey     OCTET STRING }            -- TPM2B_PRIVATE, marshalled
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace hwca::tokens::tpm2 {

// The parent every hwca key file names: the owner-hierarchy ECC P-256 SRK (srk.hpp).
inline constexpr TPM2_HANDLE kOwnerSrkParent = 0x40000001;

struct KeyFile {
  bool empty_auth = true;  // false: the key has a password
  TPM2_HANDLE parent = kOwnerSrkParent;
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  // Optional; written only when not empty. tpm2-openssl 1.1.1 cannot load a file that has
  // one, so hwca never sets it.
  std::string description;
};

// Decode a key file: PEM ("-----BEGIN TSS2 PRIVATE KEY-----") or DER. `name` (the path)
// only goes into messages. Refused, with ErrorKind::usage and the reason: another PEM
// label or not PEM/DER at all, a type other than loadable key (importable 2.23.133.10.1.4
// and sealed data 2.23.133.10.1.5 included), policy/secret/authPolicy present (hwca does
// not run key policies), rsaParent TRUE, a parent outside 0x40000000-0x40ffffff and
// 0x81000000-0x81ffffff, pubkey or privkey that do not unmarshal whole, and trailing bytes.
// A missing emptyAuth reads as false (the draft's default).
Result<KeyFile> parse_key_file(std::string_view data, const std::string& name);

// Encode as PEM (emptyAuth is written explicitly, TRUE or FALSE).
Result<std::string> key_file_pem(const KeyFile& key);

// read_file + parse_key_file; a missing file is ErrorKind::not_found.
Result<KeyFile> read_key_file(const std::string& path);

// Write key_file_pem(key) at `path`, mode 0600, atomically, and only if nothing is there
// yet (ErrorKind::conflict otherwise, even when two writers race): a key file is never
// overwritten, since the key it holds would be lost.
Status write_key_file(const std::string& path, const KeyFile& key);

}  // namespace hwca::tokens::tpm2
