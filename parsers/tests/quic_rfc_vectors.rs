//! QUIC Initial decryption against the sample packets of RFC 9001 Appendix A
//! (QUIC v1) and RFC 9369 Appendix A (QUIC v2), then the same packets
//! re-split, truncated, corrupted and rebuilt with malformed fields.
//!
//! Every expected value below is copied from the RFC text (the RFC Editor's
//! rfc9001.txt and rfc9369.txt); none was produced by this crate. The
//! test-only packet builder (`protect_initial`) uses ring directly and is
//! itself checked against the RFC's protected packets before other tests
//! rely on it.

use cipherlens_parsers::quic::{
    CryptoStream, InitialKeys, LongPacketType, PacketKeys, QUIC_V1, QUIC_V2, QuicError, Side,
    SkipReason, decrypt_datagram, decrypt_initials, decrypt_initials_with, decrypt_packet,
    peek_long_header, split_long_packet,
};
use ring::aead::{self, quic::HeaderProtectionKey};

/// The client-chosen Destination Connection ID used by both appendices.
const RFC_DCID: &str = "8394c8f03e515708";
/// The server's Source Connection ID in both appendices.
const RFC_SERVER_SCID: &str = "f067a5502a4262b5";

/// Decodes hex laid out as in the RFC (spaces and line breaks ignored).
fn rfc_hex(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).expect("valid hex in test vector")
}

/// The CRYPTO frame of the client Initial, identical in RFC 9001 A.2 and
/// RFC 9369 A.2.
const CLIENT_CRYPTO_FRAME: &str = "
   060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
   04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
   616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
   04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
   baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
   0d0010000e0403050306030203080408 050806002d00020101001c0002400100
   3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
   75300901100f088394c8f03e51570806 048000ffff";

/// The server Initial payload (ACK + CRYPTO), identical in both RFCs.
const SERVER_PAYLOAD: &str = "
   02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
   88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
   0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
   020304";

/// RFC 9001 A.2: the protected client Initial.
const V1_CLIENT_PACKET: &str = "
   c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
   d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
   1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
   8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
   30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
   457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
   4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
   4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
   485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
   059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
   7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
   9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
   be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
   68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
   c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
   f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
   291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
   25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
   14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
   ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
   e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
   c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
   203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
   cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
   fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
   a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
   90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
   162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
   40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
   6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
   8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
   be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
   54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
   760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
   f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
   056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
   7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
   e221af44860018ab0856972e194cd934";

/// RFC 9001 A.3: the protected server Initial.
const V1_SERVER_PACKET: &str = "
   cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
   5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
   dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
   022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
   2158407dd074ee";

/// RFC 9369 A.2: the protected client Initial (QUIC v2).
const V2_CLIENT_PACKET: &str = "
   d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485
   dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04
   9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d
   250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a
   12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500
   cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68
   18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33
   12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3
   d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd
   6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520
   bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045
   636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f
   ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12
   16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5
   4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4
   fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b
   8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7
   14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9
   9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91
   abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd
   80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db
   848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18
   d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15
   c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc
   7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61
   f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710
   10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b
   3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e
   06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce
   8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1
   34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1
   e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd
   5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3
   8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89
   d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53
   6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19
   9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b
   a18b2faa745b6fe189cf772a9f84cbfc";

/// RFC 9369 A.3: the protected server Initial (QUIC v2).
const V2_SERVER_PACKET: &str = "
   dc6b3343cf0008f067a5502a4262b500 4075d92faaf16f05d8a4398c47089698
   baeea26b91eb761d9b89237bbf872630 17915358230035f7fd3945d88965cf17
   f9af6e16886c61bfc703106fbaf3cb4c fa52382dd16a393e42757507698075b2
   c984c707f0a0812d8cd5a6881eaf21ce da98f4bd23f6fe1a3e2c43edd9ce7ca8
   4bed8521e2e140";

/// Per-RFC values that differ between the two versions.
struct Vectors {
    version: u32,
    client_secret: &'static str,
    client_key: &'static str,
    client_iv: &'static str,
    client_hp: &'static str,
    server_secret: &'static str,
    server_key: &'static str,
    server_iv: &'static str,
    server_hp: &'static str,
    client_sample: &'static str,
    client_mask: &'static str,
    client_header: &'static str,
    client_packet: &'static str,
    server_sample: &'static str,
    server_mask: &'static str,
    server_header: &'static str,
    server_packet: &'static str,
}

const V1: Vectors = Vectors {
    version: QUIC_V1,
    client_secret: "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
    client_key: "1f369613dd76d5467730efcbe3b1a22d",
    client_iv: "fa044b2f42a3fd3b46fb255c",
    client_hp: "9f50449e04a0e810283a1e9933adedd2",
    server_secret: "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
    server_key: "cf3a5331653c364c88f0f379b6067e37",
    server_iv: "0ac1493ca1905853b0bba03e",
    server_hp: "c206b8d9b9f0f37644430b490eeaa314",
    client_sample: "d1b1c98dd7689fb8ec11d242b123dc9b",
    client_mask: "437b9aec36",
    client_header: "c300000001088394c8f03e5157080000449e00000002",
    client_packet: V1_CLIENT_PACKET,
    server_sample: "2cd0991cd25b0aac406a5816b6394100",
    server_mask: "2ec0d8356a",
    server_header: "c1000000010008f067a5502a4262b50040750001",
    server_packet: V1_SERVER_PACKET,
};

const V2: Vectors = Vectors {
    version: QUIC_V2,
    client_secret: "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
    client_key: "8b1a0bc121284290a29e0971b5cd045d",
    client_iv: "91f73e2351d8fa91660e909f",
    client_hp: "45b95e15235d6f45a6b19cbcb0294ba9",
    server_secret: "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
    server_key: "82db637861d55e1d011f19ea71d5d2a7",
    server_iv: "dd13c276499c0249d3310652",
    server_hp: "edf6d05c83121201b436e16877593c3a",
    client_sample: "ffe67b6abcdb4298b485dd04de806071",
    client_mask: "94a0c95e80",
    client_header: "d36b3343cf088394c8f03e5157080000449e00000002",
    client_packet: V2_CLIENT_PACKET,
    server_sample: "6f05d8a4398c47089698baeea26b91eb",
    server_mask: "4dd92e91ea",
    server_header: "d16b3343cf0008f067a5502a4262b50040750001",
    server_packet: V2_SERVER_PACKET,
};

fn check_key_derivation(v: &Vectors) {
    let keys = InitialKeys::derive(v.version, &rfc_hex(RFC_DCID)).expect("derive");
    assert_eq!(keys.version(), v.version);
    let client = keys.sent_by(Side::Client);
    assert_eq!(hex::encode(client.secret()), v.client_secret);
    assert_eq!(hex::encode(client.key()), v.client_key);
    assert_eq!(hex::encode(client.iv()), v.client_iv);
    assert_eq!(hex::encode(client.hp()), v.client_hp);
    let server = keys.sent_by(Side::Server);
    assert_eq!(hex::encode(server.secret()), v.server_secret);
    assert_eq!(hex::encode(server.key()), v.server_key);
    assert_eq!(hex::encode(server.iv()), v.server_iv);
    assert_eq!(hex::encode(server.hp()), v.server_hp);

    let client_mask = client.header_mask(&rfc_hex(v.client_sample)).expect("mask");
    assert_eq!(hex::encode(client_mask), v.client_mask);
    let server_mask = server.header_mask(&rfc_hex(v.server_sample)).expect("mask");
    assert_eq!(hex::encode(server_mask), v.server_mask);
}

#[test]
fn quic_v1_initial_keys_match_rfc9001_a1() {
    check_key_derivation(&V1);
}

#[test]
fn quic_v2_initial_keys_match_rfc9369_a1() {
    check_key_derivation(&V2);
}

/// The client's unprotected payload: the CRYPTO frame plus PADDING up to
/// 1162 bytes (RFC 9001 A.2 / RFC 9369 A.2).
fn client_plaintext() -> Vec<u8> {
    let mut payload = rfc_hex(CLIENT_CRYPTO_FRAME);
    payload.resize(1162, 0);
    payload
}

/// The ClientHello bytes inside the CRYPTO frame: after type 0x06,
/// offset 0x00 and the two-byte length 0x40f1.
fn client_hello() -> Vec<u8> {
    rfc_hex(CLIENT_CRYPTO_FRAME)[4..].to_vec()
}

fn check_client_packet(v: &Vectors) {
    let datagram = rfc_hex(v.client_packet);
    assert_eq!(datagram.len(), 1200);

    // Low-level path: exact unprotected header and plaintext.
    let keys = InitialKeys::derive(v.version, &rfc_hex(RFC_DCID)).expect("derive");
    let (packet, rest) = split_long_packet(&datagram).expect("split");
    assert!(rest.is_empty());
    assert_eq!(packet.packet_type, LongPacketType::Initial);
    let decrypted = decrypt_packet(&packet, keys.client()).expect("decrypt");
    assert_eq!(hex::encode(&decrypted.header), v.client_header);
    assert_eq!(decrypted.packet_number, 2);
    assert_eq!(decrypted.packet_number_len, 4);
    assert_eq!(decrypted.payload, client_plaintext());

    // Datagram API, keys from the packet's own DCID.
    let initials = decrypt_initials(&datagram, Side::Client, None).expect("decrypt_initials");
    assert_eq!(initials.len(), 1);
    let initial = &initials[0];
    assert_eq!(initial.version, v.version);
    assert_eq!(initial.dcid, rfc_hex(RFC_DCID));
    assert!(initial.scid.is_empty());
    assert!(initial.token.is_empty());
    assert_eq!(initial.packet_number, 2);
    assert_eq!(initial.frame_types, [0x06, 0x00]);
    assert_eq!(initial.crypto.len(), 1);
    assert_eq!(initial.crypto[0].offset, 0);
    assert_eq!(initial.crypto[0].data, client_hello());
    assert_eq!(initial.crypto[0].data[0], 0x01, "ClientHello");

    // Same result with cached keys and with the DCID given explicitly.
    assert_eq!(
        decrypt_initials_with(&keys, &datagram, Side::Client).expect("with keys"),
        initials
    );
    assert_eq!(
        decrypt_initials(&datagram, Side::Client, Some(&rfc_hex(RFC_DCID))).expect("given dcid"),
        initials
    );

    let header = peek_long_header(&datagram).expect("peek");
    assert_eq!(header.version, v.version);
    assert_eq!(header.packet_type, LongPacketType::Initial);
    assert_eq!(header.dcid, rfc_hex(RFC_DCID));
}

fn check_server_packet(v: &Vectors) {
    let datagram = rfc_hex(v.server_packet);
    let original_dcid = rfc_hex(RFC_DCID);

    let keys = InitialKeys::derive(v.version, &original_dcid).expect("derive");
    let (packet, _) = split_long_packet(&datagram).expect("split");
    let decrypted = decrypt_packet(&packet, keys.server()).expect("decrypt");
    assert_eq!(hex::encode(&decrypted.header), v.server_header);
    assert_eq!(decrypted.packet_number, 1);
    assert_eq!(decrypted.packet_number_len, 2);
    assert_eq!(decrypted.payload, rfc_hex(SERVER_PAYLOAD));

    let initials = decrypt_initials(&datagram, Side::Server, Some(&original_dcid)).expect("server");
    assert_eq!(initials.len(), 1);
    let initial = &initials[0];
    assert!(initial.dcid.is_empty());
    assert_eq!(initial.scid, rfc_hex(RFC_SERVER_SCID));
    assert_eq!(initial.packet_number, 1);
    // ACK then CRYPTO, no PADDING (RFC text).
    assert_eq!(initial.frame_types, [0x02, 0x06]);
    assert_eq!(initial.crypto.len(), 1);
    assert_eq!(initial.crypto[0].offset, 0);
    // The CRYPTO frame starts at byte 5 of the payload: 06, offset 00, length 405a.
    assert_eq!(
        initial.crypto[0].data,
        rfc_hex(SERVER_PAYLOAD)[9..].to_vec()
    );
    assert_eq!(initial.crypto[0].data.len(), 0x5a);
    assert_eq!(initial.crypto[0].data[0], 0x02, "ServerHello");

    // The server's packets need the client's DCID, and the server keys.
    assert_eq!(
        decrypt_initials(&datagram, Side::Server, None),
        Err(QuicError::MissingOriginalDcid)
    );
    assert_eq!(
        decrypt_initials(&datagram, Side::Client, Some(&original_dcid)),
        Err(QuicError::DecryptionFailed)
    );
}

#[test]
fn quic_v1_client_initial_decrypts_to_rfc9001_a2() {
    check_client_packet(&V1);
}

#[test]
fn quic_v1_server_initial_decrypts_to_rfc9001_a3() {
    check_server_packet(&V1);
}

#[test]
fn quic_v2_client_initial_decrypts_to_rfc9369_a2() {
    check_client_packet(&V2);
}

#[test]
fn quic_v2_server_initial_decrypts_to_rfc9369_a3() {
    check_server_packet(&V2);
}

#[test]
fn quic_keys_of_one_version_do_not_open_the_other() {
    let v1_keys = InitialKeys::derive(QUIC_V1, &rfc_hex(RFC_DCID)).expect("derive");
    assert_eq!(
        decrypt_initials_with(&v1_keys, &rfc_hex(V2_CLIENT_PACKET), Side::Client),
        Err(QuicError::VersionMismatch {
            keys_version: QUIC_V1,
            packet_version: QUIC_V2
        })
    );
}

#[test]
fn quic_v2_uses_its_own_type_bits() {
    // 0xd7: long header, type bits 01 = Initial in v2 (0-RTT in v1).
    let v2 = peek_long_header(&rfc_hex(V2_CLIENT_PACKET)).expect("peek");
    assert_eq!(v2.packet_type, LongPacketType::Initial);
    // The v1 server packet starts 0xcf: type bits 00 = Initial in v1.
    let v1 = peek_long_header(&rfc_hex(V1_SERVER_PACKET)).expect("peek");
    assert_eq!(v1.packet_type, LongPacketType::Initial);
}

// ---------------------------------------------------------------------------
// A test-only Initial packet builder, checked against the RFC packets.
// ---------------------------------------------------------------------------

/// Protects `plaintext` as an Initial packet with a 4-byte packet number and
/// no token, following RFC 9001 sections 5.3 and 5.4 step by step.
fn protect_initial(
    keys: &PacketKeys,
    version: u32,
    dcid: &[u8],
    scid: &[u8],
    packet_number: u32,
    plaintext: &[u8],
) -> Vec<u8> {
    let initial_type_bits: u8 = if version == QUIC_V2 { 0b01 } else { 0b00 };
    let mut packet = vec![0xc0 | (initial_type_bits << 4) | 0x03];
    packet.extend(version.to_be_bytes());
    packet.push(u8::try_from(dcid.len()).expect("dcid"));
    packet.extend(dcid);
    packet.push(u8::try_from(scid.len()).expect("scid"));
    packet.extend(scid);
    packet.push(0x00); // token length
    let length = u16::try_from(4 + plaintext.len() + 16).expect("length");
    assert!(length < 0x4000);
    packet.extend((0x4000 | length).to_be_bytes()); // two-byte varint
    let pn_offset = packet.len();
    packet.extend(packet_number.to_be_bytes());

    let mut nonce = *keys.iv();
    for (nonce_byte, pn_byte) in nonce[8..].iter_mut().zip(packet_number.to_be_bytes()) {
        *nonce_byte ^= pn_byte;
    }
    let aead_key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, keys.key()).expect("aead key"),
    );
    let mut body = plaintext.to_vec();
    aead_key
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&packet[..]),
            &mut body,
        )
        .expect("seal");
    packet.extend(body);

    let hp = HeaderProtectionKey::new(&aead::quic::AES_128, keys.hp()).expect("hp key");
    let mask = hp
        .new_mask(&packet[pn_offset + 4..pn_offset + 20])
        .expect("mask");
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

fn rfc_client_keys(version: u32) -> InitialKeys {
    InitialKeys::derive(version, &rfc_hex(RFC_DCID)).expect("derive")
}

#[test]
fn quic_test_packet_builder_reproduces_the_rfc_client_packets() {
    for v in [&V1, &V2] {
        let keys = rfc_client_keys(v.version);
        let built = protect_initial(
            keys.client(),
            v.version,
            &rfc_hex(RFC_DCID),
            &[],
            2,
            &client_plaintext(),
        );
        assert_eq!(built, rfc_hex(v.client_packet), "version {:#x}", v.version);
    }
}

/// A CRYPTO frame with two-byte varint offset and length (legal, if not
/// minimal: only frame types must use the shortest encoding).
fn crypto_frame(offset: u16, data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x06];
    frame.extend((0x4000 | offset).to_be_bytes());
    frame.extend((0x4000 | u16::try_from(data.len()).expect("len")).to_be_bytes());
    frame.extend(data);
    frame
}

fn padded(mut frames: Vec<u8>, len: usize) -> Vec<u8> {
    frames.resize(len, 0);
    frames
}

fn client_initial(version: u32, packet_number: u32, plaintext: &[u8]) -> Vec<u8> {
    let keys = rfc_client_keys(version);
    protect_initial(
        keys.client(),
        version,
        &rfc_hex(RFC_DCID),
        &[],
        packet_number,
        plaintext,
    )
}

// ---------------------------------------------------------------------------
// A ClientHello spread over two Initial packets.
// ---------------------------------------------------------------------------

/// The RFC ClientHello cut in two: the tail goes in packet 0, the head in
/// packet 1 (with a PING), so the first packet to arrive cannot be used alone.
fn split_client_hello(version: u32) -> (Vec<u8>, Vec<u8>) {
    let hello = client_hello();
    let tail = padded(crypto_frame(120, &hello[120..]), 600);
    let mut head = vec![0x01];
    head.extend(crypto_frame(0, &hello[..120]));
    let head = padded(head, 600);
    (
        client_initial(version, 0, &tail),
        client_initial(version, 1, &head),
    )
}

#[test]
fn quic_client_hello_split_across_two_datagrams_reassembles() {
    for version in [QUIC_V1, QUIC_V2] {
        let (first, second) = split_client_hello(version);
        let mut stream = CryptoStream::default();

        let tail_packets = decrypt_initials(&first, Side::Client, None).expect("first");
        assert_eq!(tail_packets.len(), 1);
        assert_eq!(tail_packets[0].packet_number, 0);
        stream.insert_packet(&tail_packets[0]).expect("insert tail");
        assert!(stream.contiguous().is_empty());
        assert!(stream.has_gaps());
        assert_eq!(stream.first_handshake_message(), None);

        let head_packets = decrypt_initials(&second, Side::Client, None).expect("second");
        assert_eq!(head_packets[0].packet_number, 1);
        assert_eq!(head_packets[0].frame_types, [0x01, 0x06, 0x00]);
        stream.insert_packet(&head_packets[0]).expect("insert head");
        assert_eq!(stream.contiguous(), client_hello());
        assert_eq!(stream.first_handshake_message(), Some(&client_hello()[..]));

        // A retransmission overlapping both halves changes nothing.
        stream
            .insert(100, &client_hello()[100..200])
            .expect("overlap");
        assert_eq!(stream.contiguous(), client_hello());
    }
}

#[test]
fn quic_two_coalesced_initials_in_one_datagram_both_decrypt() {
    let (first, second) = split_client_hello(QUIC_V1);
    let mut datagram = second;
    datagram.extend(&first);
    let initials = decrypt_initials(&datagram, Side::Client, None).expect("coalesced");
    assert_eq!(initials.len(), 2);
    let mut stream = CryptoStream::default();
    for packet in &initials {
        stream.insert_packet(packet).expect("insert");
    }
    assert_eq!(stream.first_handshake_message(), Some(&client_hello()[..]));
}

// ---------------------------------------------------------------------------
// Coalesced packets of other types.
// ---------------------------------------------------------------------------

#[test]
fn quic_other_coalesced_packets_are_skipped_and_reported() {
    let initial = rfc_hex(V1_CLIENT_PACKET);
    let mut datagram = initial.clone();
    // A Handshake packet (type bits 10) with a 3-byte Length-delimited body.
    datagram.extend([0xe0, 0, 0, 0, 1, 1, 0xaa, 0, 3, 1, 2, 3]);
    // Zero padding after the last packet.
    datagram.extend([0u8; 7]);

    let found = decrypt_datagram(&datagram, Side::Client, None).expect("datagram");
    assert_eq!(found.initials.len(), 1);
    assert_eq!(found.skipped.len(), 2);
    assert_eq!(
        found.skipped[0].reason,
        SkipReason::NotInitial(LongPacketType::Handshake)
    );
    assert_eq!(found.skipped[0].offset, initial.len());
    assert_eq!(found.skipped[0].len, 12);
    assert_eq!(found.skipped[1].reason, SkipReason::NotLongHeader);
    assert_eq!(found.skipped[1].len, 7);
    assert_eq!(
        decrypt_initials(&datagram, Side::Client, None).expect("initials"),
        found.initials
    );

    // A broken packet after a good Initial is reported, not fatal.
    let mut broken_tail = initial.clone();
    broken_tail.extend([0xc0, 0, 0, 0, 1, 30]);
    let found = decrypt_datagram(&broken_tail, Side::Client, None).expect("datagram");
    assert_eq!(found.initials.len(), 1);
    assert!(matches!(found.skipped[0].reason, SkipReason::Invalid(_)));

    // A datagram holding only a Handshake packet has no Initials, no error.
    let handshake_only = [0xe0, 0, 0, 0, 1, 1, 0xaa, 0, 1, 9];
    assert_eq!(
        decrypt_initials(&handshake_only, Side::Client, None),
        Ok(vec![])
    );
}

// ---------------------------------------------------------------------------
// Malformed input: errors, never panics.
// ---------------------------------------------------------------------------

#[test]
fn quic_every_truncation_of_the_rfc_packets_is_an_error() {
    let dcid = rfc_hex(RFC_DCID);
    for (packet, sender) in [
        (rfc_hex(V1_CLIENT_PACKET), Side::Client),
        (rfc_hex(V2_CLIENT_PACKET), Side::Client),
        (rfc_hex(V1_SERVER_PACKET), Side::Server),
        (rfc_hex(V2_SERVER_PACKET), Side::Server),
    ] {
        for len in 0..packet.len() {
            let truncated = &packet[..len];
            let result = decrypt_initials(truncated, sender, Some(&dcid));
            assert!(result.is_err(), "truncated to {len} bytes: {result:?}");
            let _ = peek_long_header(truncated);
            let _ = split_long_packet(truncated);
        }
        assert!(decrypt_initials(&packet, sender, Some(&dcid)).is_ok());
    }
    assert_eq!(
        decrypt_initials(&[], Side::Client, None),
        Err(QuicError::EmptyDatagram)
    );
}

#[test]
fn quic_unsupported_versions_are_reported_by_number() {
    let mut packet = rfc_hex(V1_CLIENT_PACKET);
    for version in [0xdead_beef_u32, 0xff00_0016, 0x1a2a_3a4a, 0x0000_0002] {
        packet[1..5].copy_from_slice(&version.to_be_bytes());
        assert_eq!(
            decrypt_initials(&packet, Side::Client, None),
            Err(QuicError::UnsupportedVersion(version)),
            "{version:#x}"
        );
        assert_eq!(peek_long_header(&packet).map(|h| h.version), Some(version));
    }
    // Version 0 is Version Negotiation: not an Initial, not an error.
    packet[1..5].copy_from_slice(&0u32.to_be_bytes());
    let found = decrypt_datagram(&packet, Side::Client, None).expect("VN");
    assert!(found.initials.is_empty());
    assert_eq!(
        found.skipped[0].reason,
        SkipReason::NotInitial(LongPacketType::VersionNegotiation)
    );
    // A short header is not QUIC Initial traffic at all.
    assert_eq!(
        decrypt_initials(&[0x40, 1, 2, 3], Side::Client, None),
        Err(QuicError::NotLongHeader { first_byte: 0x40 })
    );
}

#[test]
fn quic_every_bit_flip_in_the_protected_payload_fails_authentication() {
    for v in [&V1, &V2] {
        let packet = rfc_hex(v.client_packet);
        // 22 bytes of header: first byte .. 4-byte packet number.
        for index in 22..packet.len() {
            for bit in 0..8 {
                let mut corrupted = packet.clone();
                corrupted[index] ^= 1 << bit;
                assert_eq!(
                    decrypt_initials(&corrupted, Side::Client, None),
                    Err(QuicError::DecryptionFailed),
                    "byte {index} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn quic_bit_flips_in_the_header_never_yield_an_initial() {
    for v in [&V1, &V2] {
        let packet = rfc_hex(v.client_packet);
        for index in 0..22 {
            for bit in 0..8 {
                let mut corrupted = packet.clone();
                corrupted[index] ^= 1 << bit;
                let result = decrypt_initials(&corrupted, Side::Client, None);
                // Flipping a type bit can turn the packet into a 0-RTT or
                // Handshake packet, which is skipped; all else is an error.
                assert!(
                    result.is_err() || matches!(&result, Ok(found) if found.is_empty()),
                    "byte {index} bit {bit}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn quic_absurd_header_varints_are_truncation_errors() {
    let dcid = rfc_hex(RFC_DCID);
    let mut header = vec![0xc3, 0, 0, 0, 1, 8];
    header.extend(&dcid);
    header.push(0);

    // Token length 2^62 - 1.
    let mut absurd_token = header.clone();
    absurd_token.extend([0xff; 8]);
    absurd_token.extend([0u8; 64]);
    assert!(matches!(
        decrypt_initials(&absurd_token, Side::Client, None),
        Err(QuicError::Truncated {
            field: "Initial token",
            ..
        })
    ));

    // No token; Length 2^62 - 1.
    let mut absurd_length = header.clone();
    absurd_length.push(0);
    absurd_length.extend([0xff; 8]);
    absurd_length.extend([0u8; 64]);
    assert!(matches!(
        decrypt_initials(&absurd_length, Side::Client, None),
        Err(QuicError::Truncated { .. })
    ));

    // A Length too short for the header protection sample.
    let mut tiny = header;
    tiny.extend([0, 5, 1, 2, 3, 4, 5]);
    assert_eq!(
        decrypt_initials(&tiny, Side::Client, None),
        Err(QuicError::TooShortForHeaderProtection { available: 5 })
    );
}

#[test]
fn quic_malformed_frames_inside_valid_packets_are_errors() {
    // CRYPTO frame claiming 2^62 - 1 bytes.
    let mut absurd_crypto = vec![0x06, 0x00];
    absurd_crypto.extend([0xff; 8]);
    let packet = client_initial(QUIC_V1, 0, &padded(absurd_crypto, 100));
    assert!(matches!(
        decrypt_initials(&packet, Side::Client, None),
        Err(QuicError::Truncated {
            field: "CRYPTO Data",
            ..
        })
    ));

    // A STREAM frame (0x08) has no place in an Initial packet.
    let packet = client_initial(QUIC_V1, 0, &padded(vec![0x01, 0x08, 0x00, 0x00], 100));
    assert_eq!(
        decrypt_initials(&packet, Side::Client, None),
        Err(QuicError::FrameNotAllowed { frame_type: 0x08 })
    );

    // An ACK whose ranges go below packet number 0.
    let packet = client_initial(QUIC_V1, 0, &padded(vec![0x02, 0x01, 0x00, 0x00, 0x05], 100));
    assert_eq!(
        decrypt_initials(&packet, Side::Client, None),
        Err(QuicError::InvalidAckRange)
    );
}

#[test]
fn quic_crypto_offsets_past_the_bound_are_refused() {
    // Offset 70,000 (four-byte varint) with 10 bytes: decrypts fine, but a
    // default 64 KiB stream refuses it.
    let mut far_crypto = vec![0x06];
    far_crypto.extend((0x8000_0000_u32 | 70_000).to_be_bytes());
    far_crypto.push(10);
    far_crypto.extend([0xab; 10]);
    let packet = client_initial(QUIC_V1, 0, &padded(far_crypto, 100));
    let initials = decrypt_initials(&packet, Side::Client, None).expect("decrypts");
    assert_eq!(initials[0].crypto[0].offset, 70_000);
    let mut stream = CryptoStream::default();
    assert_eq!(
        stream.insert_packet(&initials[0]),
        Err(QuicError::CryptoLimitExceeded {
            offset: 70_000,
            len: 10,
            max_bytes: 64 * 1024
        })
    );
    assert_eq!(stream.received_bytes(), 0);

    // The RFC ClientHello (241 bytes) does not fit a 200-byte stream.
    let rfc = decrypt_initials(&rfc_hex(V1_CLIENT_PACKET), Side::Client, None).expect("rfc");
    let mut small = CryptoStream::new(200);
    assert_eq!(
        small.insert_packet(&rfc[0]),
        Err(QuicError::CryptoLimitExceeded {
            offset: 0,
            len: 241,
            max_bytes: 200
        })
    );
}

#[test]
fn quic_pseudo_random_garbage_never_panics() {
    // xorshift64: deterministic, so a failure reproduces.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let template = rfc_hex(V1_CLIENT_PACKET);
    for round in 0..3000 {
        let len = (next() % 1300) as usize;
        let mut datagram: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Keep a plausible long header on two thirds of the inputs so the
        // parser gets past the first checks.
        if round % 3 != 0 {
            let keep = template.len().min(len).min((next() % 40) as usize);
            datagram[..keep].copy_from_slice(&template[..keep]);
        }
        let _ = peek_long_header(&datagram);
        let _ = decrypt_datagram(&datagram, Side::Client, None);
        let _ = decrypt_datagram(&datagram, Side::Server, Some(&template[6..14]));
        let mut stream = CryptoStream::new(4096);
        let offset = next() % 8192;
        let _ = stream.insert(offset, &datagram);
    }
}
