from twinstudy.cli import main

main()
