"""ISO/IEC 7816-4 building blocks: command and response APDUs, BER-TLV."""
