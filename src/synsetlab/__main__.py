from synsetlab.cli.main import main

main()
