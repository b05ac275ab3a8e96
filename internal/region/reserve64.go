//go:build !(386 || arm || mips || mipsle)

package region

// DefaultReserve is the address space, in bytes, that a region reserves to
// grow in place, unless the Reserve option says otherwise: 64 GiB on 64-bit
// platforms (this one), where address space is plentiful: 1,000 open
// vectors take 62.5 TiB of the 128 TiB a Linux process has on amd64. On
// 32-bit platforms, where a process has 4 GiB at most, it is 256 MiB.
// Reserved address space costs no memory and no disk.
const DefaultReserve = 64 << 30 // 64 GiB
