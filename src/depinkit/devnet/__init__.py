"""Local network orchestration: `depinkit devnet`."""
