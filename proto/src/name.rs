//! Where a client finds the service: an abstract unix socket name derived
//! from the TUN device's name. Abstract names belong to a network
//! namespace, so one namespace's device `sockshim0` and another's never
//! meet; and `bind` of the name decides which of two racing services runs.

/// The abstract name (without the leading NUL byte) of the service that
/// owns device `dev`.
pub fn service_name(dev: &str) -> Vec<u8> {
    format!("sockshimd/{dev}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_per_device() {
        assert_eq!(service_name("sockshim0"), b"sockshimd/sockshim0".to_vec());
        assert_ne!(service_name("sockshim0"), service_name("sockshim1"));
    }
}
