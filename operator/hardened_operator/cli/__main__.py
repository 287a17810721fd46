from hardened_operator.cli import main

main()
