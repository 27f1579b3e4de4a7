from iexsync.cli import main

main()
