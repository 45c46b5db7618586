from depinkit.cli import main

main()
