module edp.buildth.ing/devfw-cicd/stagex/examples/app

go 1.26
