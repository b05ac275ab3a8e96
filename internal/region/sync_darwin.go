package region

// msyncReachesDisk says whether msync(MS_SYNC) alone makes a mapping's
// pages durable. On macOS it does not: msync, like fsync there, hands the
// pages to the drive, whose own cache can still lose them in a power loss.
// Only fcntl(F_FULLFSYNC) makes the drive write its cache out, and
// os.File.Sync issues it on macOS. So every Sync of a File ends with one,
// not only those after the file's size changed.
const msyncReachesDisk = false
