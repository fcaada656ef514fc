//! QUIC Initials of draft versions, against the sample packets the drafts
//! published: draft-ietf-quic-tls-23 Appendix A (version 0xff000017, salt
//! c3eef712...) and draft-ietf-quic-tls-29 Appendix A (version 0xff00001d,
//! salt afbfec28...). Both protect the same client ClientHello (server name
//! "server") and the same server ServerHello; every byte below is copied
//! from the drafts' text, none was produced by this crate.

use cipherlens_parsers::quic::{
    CryptoStream, InitialKeys, Side, decrypt_initials, decrypt_packet, split_long_packet,
    version_name,
};
use cipherlens_parsers::tls::{HandshakeTracker, Peer};

const DCID: &str = "8394c8f03e515708";

fn hex_of(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).expect("valid hex in test vector")
}

/// The client's CRYPTO frame (A.2 of both drafts), before PADDING.
const CLIENT_CRYPTO_FRAME: &str = "
   060040c4010000c003036660261ff947 cea49cce6cfad687f457cf1b14531ba1
   4131a0e8f309a1d0b9c4000006130113 031302010000910000000b0009000006
   736572766572ff01000100000a001400 12001d00170018001901000101010201
   03010400230000003300260024001d00 204cfdfcd178b784bf328cae793b136f
   2aedce005ff183d7bb14952072366470 37002b0003020304000d0020001e0403
   05030603020308040805080604010501 060102010402050206020202002d0002
   0101001c00024001";

/// The server's payload (A.3 of both drafts).
const SERVER_PAYLOAD: &str = "
   0d0000000018410a020000560303eefc e7f7b37ba1d1632e96677825ddf73988
   cfc79825df566dc5430b9a045a120013 0100002e00330024001d00209d3c940d
   89690b84d08a60993c144eca684d1081 287c834d5311bcf32bb9da1a002b0002
   0304";

/// draft-ietf-quic-tls-23 A.2: the protected client Initial.
const DRAFT_23_CLIENT: &str = "
   c0ff000017088394c8f03e5157080000 449e3b343aa8535064a4268a0d9d7b1c
   9d250ae355162276e9b1e3011ef6bbc0 ab48ad5bcc2681e953857ca62becd752
   4daac473e68d7405fbba4e9ee616c870 38bdbe908c06d9605d9ac49030359eec
   b1d05a14e117db8cede2bb09d0dbbfee 271cb374d8f10abec82d0f59a1dee29f
   e95638ed8dd41da07487468791b719c5 5c46968eb3b54680037102a28e53dc1d
   12903db0af5821794b41c4a93357fa59 ce69cfe7f6bdfa629eef78616447e1d6
   11c4baf71bf33febcb03137c2c75d253 17d3e13b684370f668411c0f00304b50
   1c8fd422bd9b9ad81d643b20da89ca05 25d24d2b142041cae0af205092e43008
   0cd8559ea4c5c6e4fa3f66082b7d303e 52ce0162baa958532b0bbc2bc785681f
   cf37485dff6595e01e739c8ac9efba31 b985d5f656cc092432d781db95221724
   87641c4d3ab8ece01e39bc85b1543661 4775a98ba8fa12d46f9b35e2a55eb72d
   7f85181a366663387ddc20551807e007 673bd7e26bf9b29b5ab10a1ca87cbb7a
   d97e99eb66959c2a9bc3cbde4707ff77 20b110fa95354674e395812e47a0ae53
   b464dcb2d1f345df360dc227270c7506 76f6724eb479f0d2fbb6124429990457
   ac6c9167f40aab739998f38b9eccb24f d47c8410131bf65a52af841275d5b3d1
   880b197df2b5dea3e6de56ebce3ffb6e 9277a82082f8d9677a6767089b671ebd
   244c214f0bde95c2beb02cd1172d58bd f39dce56ff68eb35ab39b49b4eac7c81
   5ea60451d6e6ab82119118df02a58684 4a9ffe162ba006d0669ef57668cab38b
   62f71a2523a084852cd1d079b3658dc2 f3e87949b550bab3e177cfc49ed190df
   f0630e43077c30de8f6ae081537f1e83 da537da980afa668e7b7fb25301cf741
   524be3c49884b42821f17552fbd1931a 813017b6b6590a41ea18b6ba49cd48a4
   40bd9a3346a7623fb4ba34a3ee571e3c 731f35a7a3cf25b551a680fa68763507
   b7fde3aaf023c50b9d22da6876ba337e b5e9dd9ec3daf970242b6c5aab3aa4b2
   96ad8b9f6832f686ef70fa938b31b4e5 ddd7364442d3ea72e73d668fb0937796
   f462923a81a47e1cee7426ff6d922126 9b5a62ec03d6ec94d12606cb485560ba
   b574816009e96504249385bb61a819be 04f62c2066214d8360a2022beb316240
   b6c7d78bbe56c13082e0ca272661210a bf020bf3b5783f1426436cf9ff418405
   93a5d0638d32fc51c5c65ff291a3a7a5 2fd6775e623a4439cc08dd25582febc9
   44ef92d8dbd329c91de3e9c9582e41f1 7f3d186f104ad3f90995116c682a2a14
   a3b4b1f547c335f0be710fc9fc03e0e5 87b8cda31ce65b969878a4ad4283e6d5
   b0373f43da86e9e0ffe1ae0fddd35162 55bd74566f36a38703d5f34249ded1f6
   6b3d9b45b9af2ccfefe984e13376b1b2 c6404aa48c8026132343da3f3a33659e
   c1b3e95080540b28b7f3fcd35fa5d843 b579a84c089121a60d8c1754915c344e
   eaf45a9bf27dc0c1e784161691220913 13eb0e87555abd706626e557fc36a04f
   cd191a58829104d6075c5594f627ca50 6bf181daec940f4a4f3af0074eee89da
   acde6758312622d4fa675b39f728e062 d2bee680d8f41a597c262648bb18bcfc
   13c8b3d97b1a77b2ac3af745d61a34cc 4709865bac824a94bb19058015e4e42d
   c9be6c7803567321829dd85853396269";

/// draft-ietf-quic-tls-23 A.3: the protected server Initial.
const DRAFT_23_SERVER: &str = "
   c9ff0000170008f067a5502a4262b500 4074168bf22b7002596f99ae67abf65a
   5852f54f58c37c808682e2e40492d8a3 899fb04fc0afe9aabc8767b18a0aa493
   537426373b48d502214dd856d63b78ce e37bc664b3fe86d487ac7a77c53038a3
   cd32f0b5004d9f5754c4f7f2d1f35cf3 f7116351c92b9cf9bb6d091ddfc8b32d
   432348a2c413";

/// draft-ietf-quic-tls-29 A.2: the protected client Initial.
const DRAFT_29_CLIENT: &str = "
   c5ff00001d088394c8f03e5157080000449e4a95245bfb66bc5f93032b7ddd89
   fe0ff15d9c4f7050fccdb71c1cd80512d4431643a53aafa1b0b518b44968b18b
   8d3e7a4d04c30b3ed9410325b2abb2dafb1c12f8b70479eb8df98abcaf95dd8f
   3d1c78660fbc719f88b23c8aef6771f3d50e10fdfb4c9d92386d44481b6c52d5
   9e5538d3d3942de9f13a7f8b702dc31724180da9df22714d01003fc5e3d165c9
   50e630b8540fbd81c9df0ee63f94997026c4f2e1887a2def79050ac2d86ba318
   e0b3adc4c5aa18bcf63c7cf8e85f569249813a2236a7e72269447cd1c755e451
   f5e77470eb3de64c8849d292820698029cfa18e5d66176fe6e5ba4ed18026f90
   900a5b4980e2f58e39151d5cd685b10929636d4f02e7fad2a5a458249f5c0298
   a6d53acbe41a7fc83fa7cc01973f7a74d1237a51974e097636b6203997f921d0
   7bc1940a6f2d0de9f5a11432946159ed6cc21df65c4ddd1115f86427259a196c
   7148b25b6478b0dc7766e1c4d1b1f5159f90eabc61636226244642ee148b464c
   9e619ee50a5e3ddc836227cad938987c4ea3c1fa7c75bbf88d89e9ada642b2b8
   8fe8107b7ea375b1b64889a4e9e5c38a1c896ce275a5658d250e2d76e1ed3a34
   ce7e3a3f383d0c996d0bed106c2899ca6fc263ef0455e74bb6ac1640ea7bfedc
   59f03fee0e1725ea150ff4d69a7660c5542119c71de270ae7c3ecfd1af2c4ce5
   51986949cc34a66b3e216bfe18b347e6c05fd050f85912db303a8f054ec23e38
   f44d1c725ab641ae929fecc8e3cefa5619df4231f5b4c009fa0c0bbc60bc75f7
   6d06ef154fc8577077d9d6a1d2bd9bf081dc783ece60111bea7da9e5a9748069
   d078b2bef48de04cabe3755b197d52b32046949ecaa310274b4aac0d008b1948
   c1082cdfe2083e386d4fd84c0ed0666d3ee26c4515c4fee73433ac703b690a9f
   7bf278a77486ace44c489a0c7ac8dfe4d1a58fb3a730b993ff0f0d61b4d89557
   831eb4c752ffd39c10f6b9f46d8db278da624fd800e4af85548a294c1518893a
   8778c4f6d6d73c93df200960104e062b388ea97dcf4016bced7f62b4f062cb6c
   04c20693d9a0e3b74ba8fe74cc01237884f40d765ae56a51688d985cf0ceaef4
   3045ed8c3f0c33bced08537f6882613acd3b08d665fce9dd8aa73171e2d3771a
   61dba2790e491d413d93d987e2745af29418e428be34941485c93447520ffe23
   1da2304d6a0fd5d07d0837220236966159bef3cf904d722324dd852513df39ae
   030d8173908da6364786d3c1bfcb19ea77a63b25f1e7fc661def480c5d00d444
   56269ebd84efd8e3a8b2c257eec76060682848cbf5194bc99e49ee75e4d0d254
   bad4bfd74970c30e44b65511d4ad0e6ec7398e08e01307eeeea14e46ccd87cf3
   6b285221254d8fc6a6765c524ded0085dca5bd688ddf722e2c0faf9d0fb2ce7a
   0c3f2cee19ca0ffba461ca8dc5d2c8178b0762cf67135558494d2a96f1a139f0
   edb42d2af89a9c9122b07acbc29e5e722df8615c343702491098478a389c9872
   a10b0c9875125e257c7bfdf27eef4060bd3d00f4c14fd3e3496c38d3c5d1a566
   8c39350effbc2d16ca17be4ce29f02ed969504dda2a8c6b9ff919e693ee79e09
   089316e7d1d89ec099db3b2b268725d888536a4b8bf9aee8fb43e82a4d919d48
   43b1ca70a2d8d3f725ead1391377dcc0";

/// draft-ietf-quic-tls-29 A.3: the protected server Initial.
const DRAFT_29_SERVER: &str = "
   caff00001d0008f067a5502a4262b5004074aaf2f007823a5d3a1207c86ee491
   32824f0465243d082d868b107a38092bc80528664cbf9456ebf27673fb5fa506
   1ab573c9f001b81da028a00d52ab00b15bebaa70640e106cf2acd043e9c6b441
   1c0a79637134d8993701fe779e58c2fe753d14b0564021565ea92e57bc6faf56
   dfc7a40870e6";

fn check_draft(version: u32, client: &str, server: &str) {
    let client = hex_of(client);
    let server = hex_of(server);
    assert_eq!(client.len(), 1200);

    // The client's Initial, keys from its own DCID and the draft's salt.
    let initials = decrypt_initials(&client, Side::Client, None).expect("client Initial");
    assert_eq!(initials.len(), 1);
    let initial = &initials[0];
    assert_eq!(initial.version, version);
    assert_eq!(hex::encode(&initial.dcid), DCID);
    assert_eq!(initial.packet_number, 2);
    let frame = hex_of(CLIENT_CRYPTO_FRAME);
    assert_eq!(initial.crypto.len(), 1);
    assert_eq!(initial.crypto[0].offset, 0);
    assert_eq!(initial.crypto[0].data, frame[4..]);

    let mut stream = CryptoStream::default();
    stream.insert_packet(initial).expect("crypto");
    let mut tracker = HandshakeTracker::default();
    let _ = tracker.push_handshake_messages(Peer::Initiator, stream.contiguous());
    let hello = tracker.summary().client_hello.clone().expect("ClientHello");
    assert_eq!(hello.server_name.as_deref(), Some("server"));

    // The server's Initial: its payload is the draft's plaintext (its first
    // frame, 0x0d, is a leftover of an older draft and not an Initial frame,
    // so only the packet protection is checked).
    let keys = InitialKeys::derive(version, &hex_of(DCID)).expect("keys");
    let (packet, rest) = split_long_packet(&server).expect("server packet");
    assert!(rest.is_empty());
    let opened = decrypt_packet(&packet, keys.server()).expect("server Initial");
    assert_eq!(opened.packet_number, 1);
    assert_eq!(opened.payload, hex_of(SERVER_PAYLOAD));
    // Not with the other side's keys, nor with v1's salt.
    assert!(decrypt_packet(&packet, keys.client()).is_err());
    let v1 = InitialKeys::derive(1, &hex_of(DCID)).expect("v1 keys");
    let mut as_v1 = server.clone();
    as_v1[1..5].copy_from_slice(&1u32.to_be_bytes());
    let (packet, _) = split_long_packet(&as_v1).expect("split");
    assert!(decrypt_packet(&packet, v1.server()).is_err());
}

#[test]
fn draft_23_sample_packets_decrypt_to_the_drafts_plaintext() {
    check_draft(0xff00_0017, DRAFT_23_CLIENT, DRAFT_23_SERVER);
    assert_eq!(version_name(0xff00_0017).as_deref(), Some("draft-23"));
}

#[test]
fn draft_29_sample_packets_decrypt_to_the_drafts_plaintext() {
    check_draft(0xff00_001d, DRAFT_29_CLIENT, DRAFT_29_SERVER);
}
