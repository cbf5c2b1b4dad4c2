from sparseworks.cli import main

main()
