//! CRC-16/CCITT-FALSE, the checksum of most serial and TCP device protocols (poly 0x1021,
//! init 0xFFFF, no reflection, no final xor), with a table built at compile time.

const POLYNOMIAL: u16 = 0x1021;
const INITIAL: u16 = 0xFFFF;

const TABLE: [u16; 256] = build_table();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = (index as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ POLYNOMIAL
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
}

/// CRC-16/CCITT-FALSE of `bytes`: polynomial 0x1021, initial value 0xFFFF, MSB first, no final
/// xor. The check value (the CRC of the ASCII bytes `123456789`) is 0x29B1.
pub fn crc16_ccitt(bytes: &[u8]) -> u16 {
    bytes.iter().fold(INITIAL, |crc, &byte| {
        (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ byte)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit-by-bit definition, to check the table against.
    fn crc16_bitwise(bytes: &[u8]) -> u16 {
        let mut crc = INITIAL;
        for &byte in bytes {
            crc ^= u16::from(byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ POLYNOMIAL
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn standard_check_value() {
        assert_eq!(crc16_ccitt(b"123456789"), 0x29B1);
    }

    #[test]
    fn empty_input_is_the_initial_value() {
        assert_eq!(crc16_ccitt(&[]), 0xFFFF);
    }

    #[test]
    fn table_agrees_with_the_bitwise_definition() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for end in 0..data.len() {
            assert_eq!(crc16_ccitt(&data[..end]), crc16_bitwise(&data[..end]));
        }
    }
}
