//! Password hashes made by other implementations, for the verification tests.
//!
//! Generated with passlib 1.7.4 (bcrypt 4.0.1 backend), argon2-cffi 25.1 and Python's hashlib.
//! PBKDF2-SHA224 and PBKDF2-SHA384 come from `hashlib.pbkdf2_hmac` with passlib's adapted base64,
//! because passlib has no handler for those two digests. Test parameters are cheap except in
//! `ARGON2ID_DEFAULT`, which uses Gatehouse's default parameters.

/// The password behind every vector except the `*_UNICODE` ones.
pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// The password behind the `*_UNICODE` vectors.
pub(crate) const UNICODE_PASSWORD: &str = "Zoë-pässwörd ✓";
/// A password that matches no vector.
pub(crate) const WRONG_PASSWORD: &str = "correct horse battery stapler";

pub(crate) const ARGON2ID: &str = "$argon2id$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA";
pub(crate) const ARGON2I: &str = "$argon2i$v=19$m=256,t=2,p=1$O9/LQ3Lqb1H6PfKE4V90hQ$WT9L70vYGYL98tLANBjbYWjrrfXAMtQn2YkM4GjIQus";
pub(crate) const ARGON2D: &str = "$argon2d$v=19$m=256,t=2,p=1$BUGGc+P/fC92GptqeKLPtA$kIGWjpK0+U9NgUPAfCOCwvP1oMCjqIfNA81Qszyssrw";
pub(crate) const ARGON2ID_DEFAULT: &str = "$argon2id$v=19$m=65536,t=3,p=4$wT9gK2bw+os3g2bxHuiUCg$OxvJrie8IJVGZhf4mRKCgM3SWpkpG9uu0vdw0wUmug0";
pub(crate) const ARGON2ID_UNICODE: &str =
    "$argon2id$v=19$m=64,t=1,p=2$KsfMbbOtNMw$JZhGuggHqGJJRQrbDiRlMQ";
pub(crate) const SHA512_CRYPT_ROUNDS: &str = "$6$rounds=1000$ZYFxb3nXeBwtWtmR$qbo4KXbj10X5cr/XeMORkjU4OQArS1LOqb9vWMtLPlzdX4rlRdrI67j1Z6MY53XLNvsaL7mupFyuL6a1Ie3Wy.";
pub(crate) const SHA512_CRYPT_IMPLICIT: &str = "$6$QjfvXn20hrMCWUSF$2c3G3X5KV6WEUQvK2/ddiI0GM1fiSoOqYWw/SWJ0ZTL2.BueoGaMQgse2txjRLaCDgZXrzJLEsec/XnLMR4YM0";
pub(crate) const SHA256_CRYPT_ROUNDS: &str =
    "$5$rounds=1000$8uZq855DgHgVV4X7$HNGSYMfqAiKVCd7yj7JRhnartXCA1BkF372OkNuawY1";
pub(crate) const SHA256_CRYPT_IMPLICIT: &str =
    "$5$AhQFvoRCW1AbtVWU$.PqvljepfVS6YJxBotbW1ngSDX4dKUxnn3tUrZuaKV1";
pub(crate) const PBKDF2_SHA1: &str =
    "$pbkdf2$1000$ASCEsPZ.7x3D2DunFGLMGQ$ZL7JP0RK8eTY84sPGfqrQLHmpxg";
pub(crate) const PBKDF2_SHA256: &str =
    "$pbkdf2-sha256$1000$S8kZg3DufY8xxtjbG4PQmg$k8QoW4rDBQzSzSX95JmMXoS/UAIm9yQFsYc9Ludx8Y4";
pub(crate) const PBKDF2_SHA512: &str = "$pbkdf2-sha512$1000$z1mrlRLifO/933uPEYIwRg$jCwd5/PKGJUjLE4P/7s.K9qo209V4Uw/lYCoUmdMELSTAD3Pdri8quUNZyXZlpjZH3SS5kM3kQjjrVjM6rhb1w";
pub(crate) const PBKDF2_SHA224: &str =
    "$pbkdf2-sha224$1000$Oz0r0XfNZw/qcJ1I17sotw$cUvD468nuX04fIvvs98qCKWES/Am1hU1e0xQMQ";
pub(crate) const PBKDF2_SHA384: &str = "$pbkdf2-sha384$1000$Qi0hzC/DYy3QcbGAjnb.9w$tqsyosXRroK.xRdNeqqvwHRABeZXqLxGKCLOeAjQLVyRO/tf0.H9bIcjcWCi6Z9z";
pub(crate) const BCRYPT_2A: &str = "$2a$04$56hOuVUesrUie.BoajE8cOhJGoGmwC1x3372U8mSSro/nJ3AOeQ.2";
pub(crate) const BCRYPT_2B: &str = "$2b$04$GJc/s0f9DGAHgR5OALajIuv4Lu0flhgGOw4fffbdBvRCFr0YjExge";
pub(crate) const BCRYPT_2Y: &str = "$2y$04$.0pYNSXd9Q4pzXKNZWsr2ufsX1szRbJyfcQmidPvhpCSo4UlEB7wC";
pub(crate) const BCRYPT_UNICODE: &str =
    "$2b$05$aTitQUozJHtkrb0tV7A53eqHgTn42bRBnqWRTG0dSs5kYqEQQ3x5C";
pub(crate) const BCRYPT_SHA256_V2: &str =
    "$bcrypt-sha256$v=2,t=2b,r=4$oUZD6FVzQM0rIqMMMnZXHe$NCrBQtKd9h6L1hFtDko42bjvbcINUcO";
pub(crate) const BCRYPT_SHA256_V2_UNICODE: &str =
    "$bcrypt-sha256$v=2,t=2b,r=4$rd1jN.POkSNtszyHfOFQn.$EfprecKyV0rj0xX8.rZuOLCw/5/pWOy";
pub(crate) const BCRYPT_SHA256_V1: &str =
    "$bcrypt-sha256$2b,4$Y1ftRgqA1UkVlXUdA8iVUu$ZcUrP8s6aykxmfyTXIBdLVb5ZeTLC.O";
pub(crate) const SCRYPT: &str =
    "$scrypt$ln=4,r=8,p=1$REiptdZ6b00JgTBGqLVWig$cQeUaBYMUPR5NQI5LjcidVJuoMvMQU0i64sogjZxhR4";
pub(crate) const SCRYPT_UNICODE: &str =
    "$scrypt$ln=5,r=4,p=2$zbkXQogxBiCk9B5DqNX6/w$QiC2mOoxPSPvcUcAhZG+31X3Yg6v91chImAHCNsrKf0";
