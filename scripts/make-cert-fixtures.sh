#!/usr/bin/env bash
# Regenerates fixtures/certs/: X.509 certificates (DER) for the parser tests in
# parsers/tests/x509_*.rs, each with an `*.expected.json` written from the
# openssl CLI's own output, so the Rust summaries are checked against an
# independent implementation rather than against themselves.
#
# What it makes (names under fixtures/certs/):
#   root-ca-rsa4096          self-signed RSA 4096 root, basicConstraints CA
#   intermediate-ec-p384     EC P-384 CA signed by the root (pathlen 0)
#   leaf-rsa2048             RSA 2048 leaf signed by the intermediate
#   leaf-ec-p256             EC P-256 leaf
#   leaf-ed25519             Ed25519 leaf
#   leaf-many-sans           DNS, IP (v4 and v6), URI and email SANs (+ an otherName)
#   leaf-eku-ku              EKU serverAuth+clientAuth and keyUsage
#   self-signed-ed25519      self-signed leaf (subject == issuer, AKI == SKI)
#   v1-rsa2048               version 1 certificate (no extensions)
#   leaf-ec-p521, leaf-brainpoolp256r1, leaf-ed448, leaf-dsa2048,
#   leaf-rsa-pss             other key and signature algorithms
#   names-escaping           RFC 4514 specials, a multi-valued RDN, UTF-8
#   github-2017*.der         copied from the suricata-verify corpus pcap (see
#                            README.md there); only their expected JSON is
#                            regenerated here.
#
# Deterministic where openssl allows: names, serial numbers, validity dates and
# extensions are fixed (`openssl ca -startdate/-enddate`); keys and therefore
# signatures and fingerprints change on every run, which is fine because the
# expected values are regenerated from the same run. Private keys live only in
# a temporary directory and are never written to the repository.
#
# Needs: openssl (3.x CLI), python3. Re-runnable: it overwrites its outputs.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_dir="$repo_root/fixtures/certs"
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT

log() { printf '[cert-fixtures] %s\n' "$*" >&2; }

for tool in openssl python3; do
    command -v "$tool" >/dev/null 2>&1 || { log "missing $tool"; exit 1; }
done
log "using $(openssl version)"
mkdir -p "$out_dir"
# The server_leaf section reads its SAN from here; every openssl call that
# loads ca.cnf needs it set.
export LEAF_DNS=unused.example

# --- openssl ca set-up -------------------------------------------------------
# `openssl ca` (not `x509 -req`) because only it can set fixed validity dates
# on OpenSSL 3.0, and it makes a v1 certificate when given no extensions.
mkdir -p "$work_dir/newcerts"
: >"$work_dir/index.txt"
cat >"$work_dir/ca.cnf" <<EOF
[ ca ]
default_ca = fixture_ca

[ fixture_ca ]
database = $work_dir/index.txt
new_certs_dir = $work_dir/newcerts
serial = $work_dir/serial
default_md = sha256
policy = policy_keep_everything
unique_subject = no
email_in_dn = yes

[ policy_keep_everything ]
# With -preserveDN every attribute of the request is kept in order.
commonName = optional

[ req ]
distinguished_name = req_dn

[ req_dn ]

[ root_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ intermediate_ca ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ server_leaf ]
basicConstraints = critical,CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:\${ENV::LEAF_DNS}

[ many_sans ]
basicConstraints = CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @many_sans_list

[ many_sans_list ]
DNS.1 = many.example
DNS.2 = *.wild.example
DNS.3 = xn--bcher-kva.example
IP.1 = 192.0.2.10
IP.2 = 198.51.100.7
IP.3 = 2001:db8::1
IP.4 = fe80::1:2:3:4
URI.1 = https://many.example/path?q=1
URI.2 = spiffe://cluster.local/ns/default/sa/web
email.1 = ops@many.example
email.2 = security@many.example
otherName.1 = 1.3.6.1.4.1.311.20.2.3;UTF8:upn@many.example

[ eku_ku ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:eku.example

[ self_signed ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:self.example,IP:127.0.0.1

[ odd_names ]
basicConstraints = CA:FALSE
keyUsage = nonRepudiation,dataEncipherment,keyAgreement,encipherOnly
extendedKeyUsage = codeSigning,emailProtection,timeStamping,OCSPSigning,1.3.6.1.4.1.99999.1
subjectKeyIdentifier = hash
EOF

# issue NAME SERIAL_HEX START END SIGNER EXT_SECTION [extra openssl ca args]
#   SIGNER is "self" or the name of an already issued CA fixture.
#   EXT_SECTION "-" means no extensions (a v1 certificate).
issue() {
    local name=$1 serial=$2 start=$3 end=$4 signer=$5 section=$6
    shift 6
    local args=(-config "$work_dir/ca.cnf" -batch -notext -preserveDN -utf8
        -in "$work_dir/$name.csr" -out "$work_dir/$name.pem"
        -startdate "$start" -enddate "$end")
    if [ "$signer" = self ]; then
        args+=(-selfsign -keyfile "$work_dir/$name.key")
    else
        args+=(-cert "$work_dir/$signer.pem" -keyfile "$work_dir/$signer.key")
    fi
    if [ "$section" != - ]; then
        args+=(-extfile "$work_dir/ca.cnf" -extensions "$section")
    fi
    printf '%s\n' "$serial" >"$work_dir/serial"
    openssl ca "${args[@]}" "$@" 2>"$work_dir/$name.ca.log" || {
        cat "$work_dir/$name.ca.log" >&2
        exit 1
    }
    openssl x509 -in "$work_dir/$name.pem" -outform DER -out "$out_dir/$name.der"
    log "issued $name"
}

# request NAME SUBJECT [extra openssl req args]
request() {
    local name=$1 subject=$2
    shift 2
    openssl req -new -config "$work_dir/ca.cnf" -utf8 -key "$work_dir/$name.key" \
        -subj "$subject" -out "$work_dir/$name.csr" "$@"
}

genkey() {
    local name=$1
    shift
    openssl genpkey -out "$work_dir/$name.key" "$@" 2>/dev/null
}

genkey root-ca-rsa4096 -algorithm RSA -pkeyopt rsa_keygen_bits:4096
request root-ca-rsa4096 "/C=US/O=Cipherlens Test/OU=Fixtures/CN=Cipherlens Test Root CA"
# Ends after 2049, so its notAfter is a GeneralizedTime.
issue root-ca-rsa4096 01 20250101000000Z 20550101000000Z self root_ca -md sha256

genkey intermediate-ec-p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
request intermediate-ec-p384 "/C=US/O=Cipherlens Test/CN=Cipherlens Test Intermediate CA P-384"
issue intermediate-ec-p384 1002 20250101000000Z 20350101000000Z root-ca-rsa4096 intermediate_ca -md sha256

genkey leaf-rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
request leaf-rsa2048 "/C=US/ST=California/L=San Francisco/O=Cipherlens Test/CN=rsa.example"
# High bit set: DER adds a 00 sign byte that the summary must strip.
LEAF_DNS=rsa.example issue leaf-rsa2048 8F00A1B2C3D4E5F60718293A4B5C6D7E 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha384

genkey leaf-ec-p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
request leaf-ec-p256 "/C=US/O=Cipherlens Test/CN=ec.example"
LEAF_DNS=ec.example issue leaf-ec-p256 2003 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha384

genkey leaf-ed25519 -algorithm ED25519
request leaf-ed25519 "/C=US/O=Cipherlens Test/CN=ed25519.example"
LEAF_DNS=ed25519.example issue leaf-ed25519 2004 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha384

genkey leaf-many-sans -algorithm EC -pkeyopt ec_paramgen_curve:P-256
request leaf-many-sans "/C=US/O=Cipherlens Test/CN=many.example"
issue leaf-many-sans 2005 20250301120000Z 20260301120000Z intermediate-ec-p384 many_sans -md sha384

genkey leaf-eku-ku -algorithm RSA -pkeyopt rsa_keygen_bits:2048
request leaf-eku-ku "/C=US/O=Cipherlens Test/OU=Web/OU=Edge/CN=eku.example"
issue leaf-eku-ku 2006 20250301120000Z 20260301120000Z intermediate-ec-p384 eku_ku -md sha384

genkey self-signed-ed25519 -algorithm ED25519
request self-signed-ed25519 "/O=Cipherlens Test/CN=self.example"
issue self-signed-ed25519 7E57 20250101000000Z 20270101000000Z self self_signed

genkey v1-rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
request v1-rsa2048 "/C=GB/O=Cipherlens Test/CN=v1.example"
issue v1-rsa2048 0A 20250101000000Z 20300101000000Z self - -md sha1

genkey leaf-ec-p521 -algorithm EC -pkeyopt ec_paramgen_curve:P-521
request leaf-ec-p521 "/C=US/O=Cipherlens Test/CN=p521.example"
LEAF_DNS=p521.example issue leaf-ec-p521 2007 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha512

genkey leaf-brainpoolp256r1 -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1
request leaf-brainpoolp256r1 "/C=DE/O=Cipherlens Test/CN=brainpool.example"
LEAF_DNS=brainpool.example issue leaf-brainpoolp256r1 2008 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha384

genkey leaf-ed448 -algorithm ED448
request leaf-ed448 "/C=US/O=Cipherlens Test/CN=ed448.example"
LEAF_DNS=ed448.example issue leaf-ed448 2009 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha384

openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 \
    -out "$work_dir/dsa-params.pem" 2>/dev/null
genkey leaf-dsa2048 -paramfile "$work_dir/dsa-params.pem"
request leaf-dsa2048 "/C=US/O=Cipherlens Test/CN=dsa.example"
LEAF_DNS=dsa.example issue leaf-dsa2048 200A 20250301120000Z 20260301120000Z intermediate-ec-p384 server_leaf -md sha384

genkey leaf-rsa-pss -algorithm RSA -pkeyopt rsa_keygen_bits:3072
request leaf-rsa-pss "/C=US/O=Cipherlens Test/CN=pss.example"
LEAF_DNS=pss.example issue leaf-rsa-pss 200B 20250301120000Z 20260301120000Z root-ca-rsa4096 server_leaf \
    -md sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32

genkey names-escaping -algorithm EC -pkeyopt ec_paramgen_curve:P-256
# RFC 4514 specials (leading '#', ',', ';', '<', '>', '"', '+', trailing
# space), a multi-valued RDN (CN+UID), UTF-8, two OUs and the attributes
# with less common short names.
request names-escaping "/C=FR/ST=Centre-Val de Loire/L=Orléans/street=1 Rue de l'Été/O=Acme\, Inc.; \"Ops\"/OU=<Blue>/OU=a\\+b=c/DC=example/DC=com/serialNumber=12345/emailAddress=ops@acme.example/CN=#1 Säntis \\\\ test +UID=u42 " \
    -multivalue-rdn
issue names-escaping 200C 20250301120000Z 20260301120000Z intermediate-ec-p384 odd_names -md sha384

# --- third-party corpus certificates ------------------------------------------
corpus_pcap=/work/shared/corpus/suricata-verify/tests/bug-2646-01/input.pcap
if [ ! -f "$out_dir/github-2017.der" ] && [ -f "$corpus_pcap" ] && command -v tshark >/dev/null 2>&1; then
    # First certificate of the chain is the leaf, second its issuer.
    chain_hex=$(tshark -r "$corpus_pcap" -Y tls.handshake.certificate -T fields \
        -e tls.handshake.certificate 2>/dev/null | head -n 1)
    python3 - "$chain_hex" "$out_dir" <<'PY'
import pathlib, sys
chain = sys.argv[1].strip().split(",")
out = pathlib.Path(sys.argv[2])
(out / "github-2017.der").write_bytes(bytes.fromhex(chain[0]))
(out / "github-2017-issuer.der").write_bytes(bytes.fromhex(chain[1]))
PY
    log "extracted github-2017.der and github-2017-issuer.der from $corpus_pcap"
fi

# --- expected values from openssl ----------------------------------------------
python3 - "$out_dir" <<'PY'
"""Turns `openssl x509` output into the JSON shape of CertificateSummary.

Every value comes from openssl's printout; the only knowledge added here is
the fixed translation from openssl's display names to the RFC 5280 / RFC 4514
names the summary uses (tables below), plus a DER walk for the signature
algorithm OID, which openssl only prints by name.
"""
import datetime
import ipaddress
import json
import pathlib
import re
import subprocess
import sys

out_dir = pathlib.Path(sys.argv[1])

KEY_USAGE = {
    "Digital Signature": "digitalSignature",
    "Non Repudiation": "nonRepudiation",
    "Key Encipherment": "keyEncipherment",
    "Data Encipherment": "dataEncipherment",
    "Key Agreement": "keyAgreement",
    "Certificate Sign": "keyCertSign",
    "CRL Sign": "cRLSign",
    "Encipher Only": "encipherOnly",
    "Decipher Only": "decipherOnly",
}
EXTENDED_KEY_USAGE = {
    "TLS Web Server Authentication": "serverAuth",
    "TLS Web Client Authentication": "clientAuth",
    "Code Signing": "codeSigning",
    "E-mail Protection": "emailProtection",
    "Time Stamping": "timeStamping",
    "OCSP Signing": "OCSPSigning",
    "Any Extended Key Usage": "anyExtendedKeyUsage",
}
PUBLIC_KEY_ALGORITHM = {
    "rsaEncryption": "RSA",
    "rsassaPss": "RSA-PSS",
    "id-ecPublicKey": "EC",
    "ED25519": "Ed25519",
    "ED448": "Ed448",
    "X25519": "X25519",
    "X448": "X448",
    "dsaEncryption": "DSA",
}
# openssl prints P-256 by its X9.62 name; the summary uses the SEC 2 / TLS
# group name for the same OID (1.2.840.10045.3.1.7).
CURVE = {"prime256v1": "secp256r1"}
# The summary spells these like their RFC ASN.1 identifiers (RFC 8410,
# RFC 4055, RFC 5758); openssl's names for the others are already those.
SIGNATURE_ALGORITHM = {
    "ED25519": "ed25519",
    "ED448": "ed448",
    "rsassaPss": "rsassa-pss",
    "dsaWithSHA1": "dsa-with-sha1",
    "dsa_with_SHA224": "dsa-with-sha224",
    "dsa_with_SHA256": "dsa-with-sha256",
}


def openssl(path, *args):
    result = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", str(path), "-noout", *args],
        check=True, capture_output=True, text=True,
    )
    return result.stdout


def after_equals(text, key):
    for line in text.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1:]
    raise ValueError(f"no {key}= in openssl output")


def rdns(path, which):
    """RDNs in DER order, values unescaped (openssl sep_multiline)."""
    text = openssl(path, f"-{which}", "-nameopt", "sep_multiline,sname,utf8")
    lines = text.splitlines()[1:]
    return [line[4:].replace(" + ", "+") for line in lines if line.startswith("    ")]


def common_name(rdn_list):
    names = [part[3:] for rdn in rdn_list for part in rdn.split("+") if part.startswith("CN=")]
    return names[-1] if names else None


def rfc3339(openssl_date):
    moment = datetime.datetime.strptime(" ".join(openssl_date.split()), "%b %d %H:%M:%S %Y GMT")
    return moment.replace(tzinfo=datetime.timezone.utc), moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(text):
    return text.strip().split("=", 1)[1].replace(":", "").lower()


def extension_blocks(path):
    """Maps extension title to its printed body lines (openssl -ext)."""
    text = openssl(path, "-ext",
                   "subjectAltName,basicConstraints,keyUsage,extendedKeyUsage,"
                   "subjectKeyIdentifier,authorityKeyIdentifier")
    blocks, title = {}, None
    for line in text.splitlines():
        if line.startswith("    "):
            blocks[title].append(line.strip())
        elif line.strip() and line.strip() != "No extensions in certificate":
            title = line.split(":")[0].strip()
            blocks[title] = []
    return blocks


def read_der_oid_of_signature_algorithm(der):
    def tlv(data, pos):
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        return tag, pos, pos + length

    _, body, _ = tlv(der, 0)            # Certificate
    _, _, tbs_end = tlv(der, body)      # tbsCertificate (skipped)
    _, alg_body, _ = tlv(der, tbs_end)  # signatureAlgorithm
    tag, oid_start, oid_end = tlv(der, alg_body)
    assert tag == 0x06
    raw = der[oid_start:oid_end]
    arcs, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])


def expected_for(path):
    text = openssl(path, "-text", "-nameopt", "RFC2253,-esc_msb")
    expected = {}
    expected["version"] = int(re.search(r"Version: (\d+) ", text).group(1))
    expected["serial_number"] = after_equals(openssl(path, "-serial"), "serial")
    names = openssl(path, "-subject", "-issuer", "-nameopt", "RFC2253,-esc_msb")
    expected["subject"] = after_equals(names, "subject")
    expected["subject_rdns"] = rdns(path, "subject")
    cn = common_name(expected["subject_rdns"])
    if cn is not None:
        expected["subject_common_name"] = cn
    expected["issuer"] = after_equals(names, "issuer")
    expected["issuer_rdns"] = rdns(path, "issuer")
    dates = openssl(path, "-dates")
    start, expected["not_before"] = rfc3339(after_equals(dates, "notBefore"))
    end, expected["not_after"] = rfc3339(after_equals(dates, "notAfter"))
    expected["validity_days"] = int((end - start).total_seconds() // 86400)

    blocks = extension_blocks(path)
    san = {"dns": [], "ip": [], "uri": [], "email": []}
    for line in blocks.get("X509v3 Subject Alternative Name", []):
        for entry in line.split(", "):
            kind, _, value = entry.partition(":")
            if kind == "DNS":
                san["dns"].append(value)
            elif kind == "IP Address":
                san["ip"].append(str(ipaddress.ip_address(value)))
            elif kind == "URI":
                san["uri"].append(value)
            elif kind == "email":
                san["email"].append(value)
    san = {k: v for k, v in san.items() if v}
    if san:
        expected["subject_alt_names"] = san

    algorithm = re.search(r"Public Key Algorithm: (\S+)", text).group(1)
    public_key = {"algorithm": PUBLIC_KEY_ALGORITHM[algorithm]}
    bits = re.search(r"Public-Key: \((\d+) bit\)", text)
    if bits:
        public_key["bits"] = int(bits.group(1))
    curve = re.search(r"ASN1 OID: (\S+)", text)
    if curve:
        public_key["curve"] = CURVE.get(curve.group(1), curve.group(1))
    expected["public_key"] = public_key

    signature = re.search(r"Signature Algorithm: (\S+)", text).group(1)
    expected["signature_algorithm"] = SIGNATURE_ALGORITHM.get(signature, signature)
    der = path.read_bytes()
    expected["signature_algorithm_oid"] = read_der_oid_of_signature_algorithm(der)
    expected["fingerprint_sha256"] = fingerprint(openssl(path, "-fingerprint", "-sha256"))
    expected["fingerprint_sha1"] = fingerprint(openssl(path, "-fingerprint", "-sha1"))

    if "X509v3 Basic Constraints" in blocks:
        body = ", ".join(blocks["X509v3 Basic Constraints"])
        constraints = {"ca": "CA:TRUE" in body}
        path_len = re.search(r"pathlen:(\d+)", body)
        if path_len:
            constraints["path_len"] = int(path_len.group(1))
        expected["basic_constraints"] = constraints
    if "X509v3 Key Usage" in blocks:
        body = ", ".join(blocks["X509v3 Key Usage"])
        expected["key_usage"] = [KEY_USAGE[name] for name in body.split(", ")]
    if "X509v3 Extended Key Usage" in blocks:
        body = ", ".join(blocks["X509v3 Extended Key Usage"])
        expected["extended_key_usage"] = [
            EXTENDED_KEY_USAGE.get(name, name) for name in body.split(", ")
        ]
        unknown = [n for n in expected["extended_key_usage"] if " " in n]
        if unknown:
            raise ValueError(f"{path.name}: add EKU names {unknown} to the table")

    def key_id(title):
        for line in blocks.get(title, []):
            line = line.removeprefix("keyid:")
            if re.fullmatch(r"([0-9A-F]{2}:)*[0-9A-F]{2}", line):
                return line.replace(":", "").lower()
        return None

    ski = key_id("X509v3 Subject Key Identifier")
    aki = key_id("X509v3 Authority Key Identifier")
    if ski is not None:
        expected["subject_key_identifier"] = ski
    if aki is not None:
        expected["authority_key_identifier"] = aki
    expected["self_signed"] = expected["subject"] == expected["issuer"] and (
        ski is None or aki is None or ski == aki
    )
    return expected


for der_path in sorted(out_dir.glob("*.der")):
    expected = expected_for(der_path)
    target = der_path.with_name(der_path.stem + ".expected.json")
    target.write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
    print(f"[cert-fixtures] wrote {target.name}", file=sys.stderr)
PY
log "done: $(find "$out_dir" -name '*.der' | wc -l) certificates in $out_dir"
