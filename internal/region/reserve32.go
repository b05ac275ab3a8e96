//go:build 386 || arm || mips || mipsle

package region

// DefaultReserve is the address space, in bytes, that a region reserves to
// grow in place, unless the Reserve option says otherwise: 256 MiB on
// 32-bit platforms (this one), where a process has 4 GiB of address space
// at most. On 64-bit platforms, where address space is plentiful, it is
// 64 GiB: 1,000 open vectors take 62.5 TiB of the 128 TiB a Linux process
// has on amd64. Reserved address space costs no memory and no disk.
const DefaultReserve = 256 << 20 // 256 MiB
