//! Bounds-checked little-endian reads and writes over a byte slice.

use crate::ConfigError;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], ConfigError> {
        let end = self.at.checked_add(N).ok_or(ConfigError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(ConfigError::Truncated)?;
        self.at = end;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ConfigError> {
        Ok(self.take::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ConfigError> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ConfigError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    /// Checks the magic and version every blob starts with.
    pub(crate) fn header(&mut self, magic: u32) -> Result<(), ConfigError> {
        if self.u32()? != magic {
            return Err(ConfigError::BadMagic);
        }
        match self.u32()? {
            crate::VERSION => Ok(()),
            other => Err(ConfigError::Version(other)),
        }
    }
}

pub(crate) struct Writer<'a> {
    bytes: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn put(&mut self, data: &[u8]) -> Result<(), ConfigError> {
        let end = self.at + data.len();
        self.bytes.get_mut(self.at..end).ok_or(ConfigError::NoRoom)?.copy_from_slice(data);
        self.at = end;
        Ok(())
    }

    pub(crate) fn header(&mut self, magic: u32) -> Result<(), ConfigError> {
        self.put(&magic.to_le_bytes())?;
        self.put(&crate::VERSION.to_le_bytes())
    }

    pub(crate) fn len(&self) -> usize {
        self.at
    }
}
