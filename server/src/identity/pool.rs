//! A bounded pool of threads for password hashing and verification.
//!
//! Argon2 at the default cost uses 64 MiB of memory per computation and is slow by design, so the
//! work runs on dedicated threads, never on the async runtime. At most `workers` computations
//! run at once and at most `queue` requests wait. A request beyond that gets
//! [`PoolError::Busy`] at once, so a flood of logins uses bounded memory and cannot starve the
//! forward-auth path. Callers respond to `Busy` with 503 and `Retry-After`.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::oneshot;

use crate::identity::hashing::{
    hash_password, verify_password_with_params, Argon2Params, HashError, Verified,
    MAX_PASSWORD_BYTES,
};
use crate::identity::secret::Password;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Error from a [`HashingPool`] request.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full. The caller responds with 503 and
    /// `Retry-After`.
    #[error("password hashing is busy: every worker is running and the queue is full")]
    Busy,
    /// A worker failed while running this request; the failure has been logged.
    #[error("password hashing failed inside a worker thread")]
    WorkerFailed,
    /// Hashing or verification itself failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The pool could not be started.
    #[error("invalid password hashing pool settings: {0}")]
    InvalidSettings(String),
    /// A worker thread could not be started.
    #[error("failed to start a password hashing thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// A fixed set of threads that hash and verify passwords, with a bounded queue in front.
///
/// Dropping the pool lets the workers finish their current job and exit.
pub struct HashingPool {
    sender: SyncSender<Job>,
    params: Arc<Argon2Params>,
    dummy_hash: Arc<str>,
    verifications: Arc<AtomicU64>,
}

impl HashingPool {
    /// Starts `workers` threads with room for `queue` waiting requests, hashing new passwords
    /// with `params`.
    ///
    /// It also makes the dummy hash for unknown users with `params`, which takes one full hash
    /// computation on the calling thread, so call it at startup before serving (or from
    /// `spawn_blocking`).
    pub fn new(workers: usize, queue: usize, params: Argon2Params) -> Result<Self, PoolError> {
        if workers == 0 {
            return Err(PoolError::InvalidSettings(
                "workers must be at least 1".to_owned(),
            ));
        }
        params.validate()?;

        // The dummy password is random and thrown away, so no guess can match the dummy hash.
        let dummy_password = random_dummy_password()?;
        let dummy_hash = hash_password(&dummy_password, &params)?;

        // A zero-capacity channel hands a job over only to a worker that is idle at that moment,
        // which is the meaning of `queue == 0`.
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("gatehouse-hash-{index}"))
                .spawn(move || run_worker(&receiver))
                .map_err(PoolError::Spawn)?;
        }
        tracing::debug!(workers, queue, "password hashing pool started");

        Ok(HashingPool {
            sender,
            params: Arc::new(params),
            dummy_hash: dummy_hash.into(),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Returns the parameters used for new hashes and for the dummy hash.
    pub fn params(&self) -> &Argon2Params {
        &self.params
    }

    /// Returns the number of password verifications the workers have run, against real and dummy
    /// hashes alike.
    ///
    /// Tests use it to show that an unknown user costs the same work as a wrong password.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }

    /// Hashes a password with the pool's parameters.
    pub async fn hash(&self, password: Password) -> Result<String, PoolError> {
        let params = Arc::clone(&self.params);
        self.run(move || hash_password(password.expose(), &params))
            .await
    }

    /// Verifies a password against a stored hash; `needs_rehash` is judged against the pool's
    /// parameters.
    pub async fn verify(&self, password: Password, encoded: String) -> Result<Verified, PoolError> {
        let params = Arc::clone(&self.params);
        let verifications = Arc::clone(&self.verifications);
        self.run(move || {
            verifications.fetch_add(1, Ordering::SeqCst);
            verify_password_with_params(password.expose(), &encoded, &params)
        })
        .await
    }

    /// Verifies a password against the user's stored hash, or against the dummy hash when the
    /// user is unknown (`None`), so both cases do the same work.
    ///
    /// For an unknown user the result is always a non-match. Errors from verifying against the
    /// dummy hash, such as [`PoolError::Busy`], are returned unchanged. A password that no
    /// stored hash can match (empty, or longer than [`MAX_PASSWORD_BYTES`]) is a non-match
    /// without any hashing, for known and unknown users alike, so that a login with one gets the
    /// wrong-credentials response rather than an error.
    pub async fn verify_or_dummy(
        &self,
        password: Password,
        encoded: Option<&str>,
    ) -> Result<Verified, PoolError> {
        let length = password.expose().len();
        if length == 0 || length > MAX_PASSWORD_BYTES {
            return Ok(Verified {
                matches: false,
                needs_rehash: false,
            });
        }
        if let Some(encoded) = encoded {
            return self.verify(password, encoded.to_owned()).await;
        }
        self.verify(password, self.dummy_hash.to_string()).await?;
        Ok(Verified {
            matches: false,
            needs_rehash: false,
        })
    }

    /// Queues `work` for a worker and waits for its result without blocking the runtime.
    async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A caller that went away (for example a client that disconnected) no longer needs
            // the answer, so its queued work is skipped.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(work());
        });

        self.submit(job)?;
        match result.await {
            Ok(outcome) => outcome.map_err(PoolError::Hash),
            Err(_) => Err(PoolError::WorkerFailed),
        }
    }

    fn submit(&self, job: Job) -> Result<(), PoolError> {
        match self.sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::debug!("password hashing pool is full, request rejected");
                Err(PoolError::Busy)
            }
            // Workers only stop when the pool is dropped, and they survive panics, so this
            // means every worker has died.
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("password hashing workers have all stopped");
                Err(PoolError::WorkerFailed)
            }
        }
    }
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool")
            .field("params", &self.params)
            .field("verifications", &self.verifications())
            .finish_non_exhaustive()
    }
}

fn run_worker(receiver: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = {
            let receiver = receiver
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            receiver.recv()
        };
        let Ok(job) = next else {
            // The pool was dropped.
            return;
        };
        if panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            // The panic message has already been printed by the panic hook; the job's reply
            // channel was dropped, so its caller gets `WorkerFailed`.
            tracing::error!("password hashing job panicked; the worker continues");
        }
    }
}

fn random_dummy_password() -> Result<String, HashError> {
    use rand::RngCore;

    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| HashError::Failed("the system random number generator failed"))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;
    use std::time::Duration;

    use super::*;
    use crate::identity::hashing::Argon2Variant;
    use crate::identity::test_vectors::*;

    fn cheap_params() -> Argon2Params {
        Argon2Params {
            variant: Argon2Variant::Argon2id,
            iterations: 1,
            memory_kib: 64,
            parallelism: 1,
            key_length: 32,
            salt_length: 16,
        }
    }

    /// Occupies one worker until the returned sender is dropped or sent to.
    fn occupy_worker(pool: &HashingPool) -> (SyncSender<()>, Receiver<()>) {
        let (release, released) = mpsc::sync_channel::<()>(1);
        let (started_sender, started) = mpsc::sync_channel::<()>(1);
        pool.submit(Box::new(move || {
            let _ = started_sender.send(());
            let _ = released.recv();
        }))
        .unwrap();
        (release, started)
    }

    #[tokio::test]
    async fn pool_hashes_and_verifies() {
        let pool = HashingPool::new(2, 4, cheap_params()).unwrap();

        let hash = pool.hash(Password::from(PASSWORD)).await.unwrap();
        let right = pool
            .verify(Password::from(PASSWORD), hash.clone())
            .await
            .unwrap();
        let wrong = pool
            .verify(Password::from(WRONG_PASSWORD), hash)
            .await
            .unwrap();

        assert_eq!(
            right,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        assert_eq!(
            wrong,
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
        assert_eq!(pool.verifications(), 2);
    }

    #[tokio::test]
    async fn pool_verifies_legacy_hash() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();

        let verified = pool
            .verify(Password::from(PASSWORD), BCRYPT_2B.to_owned())
            .await
            .unwrap();

        assert_eq!(
            verified,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn pool_returns_hash_errors() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();

        let result = pool
            .verify(Password::from(PASSWORD), "$nonsense$".to_owned())
            .await;

        assert!(
            matches!(
                result,
                Err(PoolError::Hash(HashError::UnsupportedFormat { .. }))
            ),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn unusable_password_is_a_non_match() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();
        let hash = pool.hash(Password::from(PASSWORD)).await.unwrap();
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        for password in [long.as_str(), ""] {
            for stored in [Some(hash.as_str()), None] {
                let verified = pool
                    .verify_or_dummy(Password::from(password), stored)
                    .await
                    .expect("an unusable password is an answer, not an error");
                assert!(!verified.matches, "length {}", password.len());
            }
        }
    }

    #[tokio::test]
    async fn unknown_user_costs_one_verification() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();
        let hash = pool.hash(Password::from(PASSWORD)).await.unwrap();

        let wrong = pool
            .verify_or_dummy(Password::from(WRONG_PASSWORD), Some(&hash))
            .await;
        let after_wrong = pool.verifications();
        let unknown = pool
            .verify_or_dummy(Password::from(WRONG_PASSWORD), None)
            .await;
        let after_unknown = pool.verifications();

        assert_eq!(
            wrong.unwrap(),
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
        assert_eq!(
            unknown.unwrap(),
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
        assert_eq!(after_wrong, 1);
        assert_eq!(after_unknown, 2);
    }

    #[tokio::test]
    async fn dummy_hash_uses_pool_params() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();

        assert!(pool.dummy_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let verified = verify_password_with_params("x", &pool.dummy_hash, &cheap_params());
        assert_eq!(
            verified,
            Ok(Verified {
                matches: false,
                needs_rehash: false
            })
        );
    }

    #[tokio::test]
    async fn unknown_user_never_matches() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();

        // Even the right password of some user, or any guess, gives a non-match.
        for guess in [PASSWORD, "x", "password"] {
            let verified = pool
                .verify_or_dummy(Password::from(guess), None)
                .await
                .unwrap();
            assert!(!verified.matches, "{guess}");
        }
    }

    #[tokio::test]
    async fn full_queue_returns_busy() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();
        let (release_running, started) = occupy_worker(&pool);
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        let (release_queued, queued_started) = occupy_worker(&pool);

        let result = pool
            .verify(Password::from(PASSWORD), BCRYPT_2B.to_owned())
            .await;

        assert!(matches!(result, Err(PoolError::Busy)), "{result:?}");
        assert_eq!(pool.verifications(), 0);

        // Once the queued job has started, the queue is empty again.
        release_running.send(()).unwrap();
        release_queued.send(()).unwrap();
        queued_started
            .recv_timeout(Duration::from_secs(10))
            .unwrap();
        let after = pool
            .verify(Password::from(PASSWORD), BCRYPT_2B.to_owned())
            .await;
        assert!(after.unwrap().matches);
    }

    #[tokio::test]
    async fn zero_queue_rejects_when_workers_busy() {
        let pool = HashingPool::new(1, 0, cheap_params()).unwrap();
        let (release, started) = occupy_worker_when_idle(&pool);
        started.recv_timeout(Duration::from_secs(10)).unwrap();

        let result = pool.hash(Password::from(PASSWORD)).await;

        assert!(matches!(result, Err(PoolError::Busy)), "{result:?}");
        release.send(()).unwrap();
    }

    /// Like `occupy_worker`, but retries until the worker is waiting, because a zero-capacity
    /// channel accepts a job only from a worker blocked in `recv`.
    fn occupy_worker_when_idle(pool: &HashingPool) -> (SyncSender<()>, Receiver<()>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (release, released) = mpsc::sync_channel::<()>(1);
            let (started_sender, started) = mpsc::sync_channel::<()>(1);
            let job: Job = Box::new(move || {
                let _ = started_sender.send(());
                let _ = released.recv();
            });
            if pool.submit(job).is_ok() {
                return (release, started);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker never became idle"
            );
            thread::yield_now();
        }
    }

    #[tokio::test]
    async fn panicking_job_keeps_worker() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();

        let failed = pool
            .run::<(), _>(|| panic!("test panic inside a hashing job"))
            .await;
        let after = pool.hash(Password::from(PASSWORD)).await;

        assert!(matches!(failed, Err(PoolError::WorkerFailed)), "{failed:?}");
        assert!(after.is_ok(), "{after:?}");
    }

    #[test]
    fn pool_rejects_zero_workers() {
        let result = HashingPool::new(0, 1, cheap_params());

        assert!(matches!(result, Err(PoolError::InvalidSettings(_))));
    }

    #[test]
    fn pool_rejects_invalid_params() {
        let params = Argon2Params {
            iterations: 0,
            ..cheap_params()
        };

        let result = HashingPool::new(1, 1, params);

        assert!(matches!(
            result,
            Err(PoolError::Hash(HashError::InvalidParams(_)))
        ));
    }

    #[test]
    fn pool_debug_omits_dummy_hash() {
        let pool = HashingPool::new(1, 1, cheap_params()).unwrap();

        let debug = format!("{pool:?}");

        assert!(!debug.contains("$argon2id"), "{debug}");
    }
}
