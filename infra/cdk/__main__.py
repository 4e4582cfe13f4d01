from infra.cdk.app import main

main()
