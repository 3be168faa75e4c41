//! Closed-form results from queueing theory, which the simulator's numbers
//! are checked against. Rates are per second, times in seconds.
//!
//! References: L. Kleinrock, *Queueing Systems, Volume 1* (1975); A. K.
//! Erlang (1917) for the C formula; Pollaczek–Khinchine for M/G/1.

/// M/M/1 mean time in system, W = 1 / (mu - lambda). None if unstable.
pub fn mm1_mean_response(lambda: f64, mu: f64) -> Option<f64> {
    (lambda < mu).then(|| 1.0 / (mu - lambda))
}

/// M/M/1 mean number in system, L = rho / (1 - rho).
pub fn mm1_mean_in_system(lambda: f64, mu: f64) -> Option<f64> {
    let rho = lambda / mu;
    (rho < 1.0).then(|| rho / (1.0 - rho))
}

/// Erlang's C formula: the probability that an arrival to an M/M/c queue
/// with offered load `a = lambda / mu` must wait. None if a >= c.
pub fn erlang_c(c: u32, a: f64) -> Option<f64> {
    let c_f = f64::from(c);
    if a >= c_f || a <= 0.0 {
        return None;
    }
    // Sum a^k / k! for k < c iteratively, to stay exact-ish and overflow-free
    // for the small c used in stories.
    let mut term = 1.0; // a^0 / 0!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    // term is now a^c / c!
    let top = term * c_f / (c_f - a);
    Some(top / (sum + top))
}

/// M/M/c mean time waiting in the queue, Wq = C(c, a) / (c mu - lambda).
pub fn mmc_mean_wait(c: u32, lambda: f64, mu: f64) -> Option<f64> {
    let p_wait = erlang_c(c, lambda / mu)?;
    Some(p_wait / (f64::from(c) * mu - lambda))
}

/// The interactive response time law: with `users` users who think for
/// `think` seconds on average between requests, and a throughput of
/// `throughput` requests per second, the mean response time is
/// N/X - Z (Denning and Buzen, "The Operational Analysis of Queueing
/// Network Models", 1978). It holds for any closed system in balance.
pub fn interactive_response(users: f64, throughput: f64, think: f64) -> f64 {
    users / throughput - think
}

/// A closed loop of `users` users, each thinking for a mean of `think`
/// seconds, in front of one FIFO server with exponential service of mean
/// `service` seconds (the machine-repairman model): the exact mean
/// response time and throughput by mean value analysis (Reiser and
/// Lavenberg, 1980). The think time may have any distribution.
pub fn closed_single_server(users: u32, service: f64, think: f64) -> (f64, f64) {
    let (mut response, mut throughput, mut queue) = (0.0, 0.0, 0.0);
    for n in 1..=users {
        response = service * (1.0 + queue);
        throughput = f64::from(n) / (response + think);
        queue = throughput * response;
    }
    (response, throughput)
}

/// M/G/1 mean time waiting in the queue by Pollaczek–Khinchine:
/// Wq = lambda E[S^2] / (2 (1 - rho)).
pub fn mg1_mean_wait(lambda: f64, mean_service: f64, second_moment_service: f64) -> Option<f64> {
    let rho = lambda * mean_service;
    (rho < 1.0).then(|| lambda * second_moment_service / (2.0 * (1.0 - rho)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(mm1_mean_response(0.8, 1.0), Some(5.000000000000001));
        assert_eq!(mm1_mean_response(1.0, 1.0), None);
        // c = 1 reduces Erlang C to rho.
        assert!((erlang_c(1, 0.7).unwrap() - 0.7).abs() < 1e-12);
        // A textbook value: c = 2, a = 1 gives 1/3.
        assert!((erlang_c(2, 1.0).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // M/D/1 waits half as long as M/M/1 (E[S^2] = 1 vs 2 for mean 1).
        let md1 = mg1_mean_wait(0.5, 1.0, 1.0).unwrap();
        let mm1 = mg1_mean_wait(0.5, 1.0, 2.0).unwrap();
        assert!((md1 / mm1 - 0.5).abs() < 1e-12);
    }
}
